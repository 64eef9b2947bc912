// Owns where things live under DATA_DIR, so the API, the workers and the stack agree.
import path from 'node:path';

export const storeDir = (dataDir: string) => path.join(dataDir, 'store');
/** Sources' frame indexes, beside the renders: whoever mounts the store shares them (render/frame-indexes.ts). */
export const frameIndexDir = (dataDir: string) => path.join(storeDir(dataDir), 'indexes');
export const logsDir = (dataDir: string) => path.join(dataDir, 'logs');
export const nginxDir = (dataDir: string) => path.join(dataDir, 'nginx');
/** nginx.conf's proxy_cache_path ({{NGINX_DIR}}/cache). */
export const nginxCacheDir = (dataDir: string) => path.join(nginxDir(dataDir), 'cache');
/** The fingerprint of the signing key nginx's cache was filled under (stack/signing-key-epoch.ts). */
export const nginxCacheKeyRecord = (dataDir: string) => path.join(nginxDir(dataDir), 'cache-signing-key');
export const redisDir = (dataDir: string) => path.join(dataDir, 'redis');
