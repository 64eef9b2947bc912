// Owns each client's fair share of the render queue, across API processes, in Redis (issue 12). A client
// is an address as nginx saw it; its count is the renders it added and still waits for. While the queue
// is below MAX_QUEUE_DEPTH this only counts. Once it is full, a client below its share (MAX_QUEUE_DEPTH ÷
// the clients with renders counted) may still add one, so a client that filled the queue alone cannot
// keep others out: its own asks get 503 while theirs pass. Every share together is MAX_QUEUE_DEPTH, so
// the queue never holds more than twice that. A count an API process that died left behind expires.
import type { Redis } from 'ioredis';

const ASKS = 'mp3-segments:client-asks:';
const CLIENTS = 'mp3-segments:clients';
/** Longer than any wait (WAIT_TIMEOUT_MS is at most an hour): only a dead API process's counts expire. */
const COUNT_TTL_SECONDS = 3_700;

/**
 * Counts one more render for ARGV[4] (KEYS[1]: its count, KEYS[2]: the clients with counts, scored by
 * their last count), unless ARGV[3] is 1 and the client is at its share of ARGV[2]; returns
 * {counted, share}.
 */
const COUNT_IN = `local now = tonumber(ARGV[1]); local capacity = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - ${COUNT_TTL_SECONDS * 1000})
local mine = tonumber(redis.call('GET', KEYS[1]) or '0')
local clients = redis.call('ZCARD', KEYS[2])
if not redis.call('ZSCORE', KEYS[2], ARGV[4]) then clients = clients + 1 end
local share = math.max(1, math.floor(capacity / clients))
if ARGV[3] == '1' and mine >= share then return {0, share} end
redis.call('INCR', KEYS[1]); redis.call('EXPIRE', KEYS[1], ${COUNT_TTL_SECONDS}); redis.call('ZADD', KEYS[2], now, ARGV[4])
return {1, share}`;
/** Counts one out (KEYS[1]); the client leaves the set (KEYS[2]) with its last render. */
const COUNT_OUT = `if redis.call('DECR', KEYS[1]) <= 0 then redis.call('DEL', KEYS[1]); redis.call('ZREM', KEYS[2], ARGV[1]) end`;

export interface ClientShares {
  /**
   * Counts one more render for `client`; with `onlyBelowShare` (the queue is full), only while the client
   * is below its share of `capacity`. `counted` false: refused. Rejects when Redis cannot be reached.
   */
  countIn(client: string, capacity: number, options: { onlyBelowShare: boolean }): Promise<{ counted: boolean; share: number }>;
  /** A counted render's wait ended (answered, failed, timed out or abandoned). */
  countOut(client: string): Promise<void>;
}

export function createClientShares(redis: Redis, now: () => number = Date.now): ClientShares {
  return {
    async countIn(client, capacity, { onlyBelowShare }) {
      const [counted, share] = (await redis.eval(
        COUNT_IN,
        2,
        `${ASKS}${client}`,
        CLIENTS,
        now(),
        capacity,
        onlyBelowShare ? '1' : '0',
        client,
      )) as [number, number];
      return { counted: counted === 1, share };
    },
    async countOut(client) {
      await redis.eval(COUNT_OUT, 2, `${ASKS}${client}`, CLIENTS, client);
    },
  };
}
