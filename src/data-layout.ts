// Owns where things live under DATA_DIR, so the API, the workers and the stack agree.
import path from 'node:path';

export const storeDir = (dataDir: string) => path.join(dataDir, 'store');
/** Sources' frame indexes, beside the renders: whoever mounts the store shares them (render/frame-indexes.ts). */
export const frameIndexDir = (dataDir: string) => path.join(storeDir(dataDir), 'indexes');
export const logsDir = (dataDir: string) => path.join(dataDir, 'logs');
export const nginxDir = (dataDir: string) => path.join(dataDir, 'nginx');
/** nginx.conf's pid ({{NGINX_DIR}}/nginx.pid): how a restart finds an nginx that a killed run left running. */
export const nginxPidFile = (dataDir: string) => path.join(nginxDir(dataDir), 'nginx.pid');
/** nginx.conf's proxy_cache_path ({{NGINX_DIR}}/cache). */
export const nginxCacheDir = (dataDir: string) => path.join(nginxDir(dataDir), 'cache');
/** The socket of nginx's own server over the store (nginx.conf, segment_store_files): reachable by nginx alone. */
export const nginxStoreFilesSocket = (dataDir: string) => path.join(nginxDir(dataDir), 'store-files.sock');
/** The fingerprint of the signing key nginx's cache was filled under (stack/signing-key-epoch.ts). */
export const nginxCacheKeyRecord = (dataDir: string) => path.join(nginxDir(dataDir), 'cache-signing-key');
export const redisDir = (dataDir: string) => path.join(dataDir, 'redis');
/** The private Redis's own pid file (redis-server --pidfile), beside its data. */
export const redisPidFile = (dataDir: string) => path.join(redisDir(dataDir), 'redis.pid');
/** One `npm start` per DATA_DIR: its owner's pid and start time (src/stack/stack-lock.ts). */
export const stackLockFile = (dataDir: string) => path.join(dataDir, 'stack.pid');
