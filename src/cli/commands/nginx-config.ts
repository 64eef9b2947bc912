// `segments nginx-config`: prints the repository's nginx.conf with its {{...}} values filled in, exactly as
// `npm start` fills them (stack/nginx-front.ts), for a production install that runs nginx itself.
import { readFile } from 'node:fs/promises';
import { NGINX_TEMPLATE, nginxValues, renderNginxConfig } from '../../stack/nginx-front.js';
import type { Command } from '../command.js';
import { readArgs } from '../parse-args.js';

const USAGE = `Usage: segments nginx-config [--host ADDR] [--port N] [--api-port N] [--data-dir DIR]

Prints nginx.conf with its values filled in from the configuration (HOST, PORT, API_PORT, DATA_DIR,
WAIT_TIMEOUT_MS, NGINX_CACHE_MAX_BYTES), each flag overriding its variable. nginx then keeps its pid, temp
files and cache under DATA_DIR/nginx and its logs under DATA_DIR/logs/nginx (create them, writable by the
user nginx's workers run as), and proxies to the API on 127.0.0.1:API_PORT.

Example:
  segments nginx-config --host 0.0.0.0 --port 80 --data-dir /var/lib/mp3-segments > /etc/nginx/mp3-segments.conf
  nginx -t -c /etc/nginx/mp3-segments.conf`;

const OPTIONS = {
  host: { type: 'string' },
  port: { type: 'string' },
  'api-port': { type: 'string' },
  'data-dir': { type: 'string' },
} as const;

/** Flag name → the variable it overrides, so a bad flag is checked (and named) like the variable. */
const FLAG_VARIABLES = { host: 'HOST', port: 'PORT', 'api-port': 'API_PORT', 'data-dir': 'DATA_DIR' } as const;

export const nginxConfigCommand: Command = {
  name: 'nginx-config',
  summary: 'print nginx.conf with its values filled in, for a production install',
  usage: USAGE,
  async run(args, context) {
    const { values } = readArgs(args, { name: 'nginx-config', options: OPTIONS, positionals: [0, 0] });
    const overrides: Record<string, string> = {};
    for (const [flag, variable] of Object.entries(FLAG_VARIABLES)) {
      const value = values[flag as keyof typeof FLAG_VARIABLES];
      if (value !== undefined) overrides[variable] = value;
    }
    context.print(renderNginxConfig(await readFile(NGINX_TEMPLATE, 'utf8'), nginxValues(context.config(overrides))).trimEnd());
  },
};
