// Owns how processes log: pino, one JSON line per event, named by process role. The stack supervisor
// prettifies these lines for a terminal.
import { pino, type Logger } from 'pino';

export function createLogger(name: string, level: string): Logger {
  return pino({ name, level, base: { pid: process.pid } });
}
