// Owns how processes log: pino, one JSON line per event, named by process role. Under `npm start`, the
// stack shows these lines on a terminal as pretty ones (stack/log-output.ts).
import { pino, type Logger } from 'pino';

export function createLogger(name: string, level: string): Logger {
  return pino({ name, level, base: { pid: process.pid } });
}
