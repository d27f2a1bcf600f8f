/**
 * The Redis URL a user gives (`redis://[user:password@]host[:port][/db]`, `rediss://` for TLS): parsed
 * once into connection options, shown only redacted. A password never reaches a message, a log line,
 * a job or a manifest: every error that leaves this folder goes through `redactError`.
 */
import type { ConnectionOptions } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import { UsageError, invalidParameterError } from '../errors.js';

export interface RedisTarget {
  /** ioredis options; holds the password, so it is never printed. */
  options: RedisOptions;
  /** The URL with its password replaced by ***: safe to print. */
  display: string;
  /** Strings that must not appear in anything written (the password, raw and URL-encoded). */
  secrets: string[];
}

export function parseRedisUrl(url: string): RedisTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw invalidParameterError('--redis', 'a URL like redis://[:PASSWORD@]HOST[:PORT][/DB]', redactUrlText(url));
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw invalidParameterError('--redis', 'a redis:// or rediss:// URL', redactUrlText(url));
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0) throw invalidParameterError('--redis', 'a database number after the host, e.g. redis://host:6379/0', redactUrlText(url));
  const password = u.password ? decodeURIComponent(u.password) : undefined;
  const username = u.username ? decodeURIComponent(u.username) : undefined;
  const display = `${u.protocol}//${username ? username : ''}${password ? ':***' : ''}${username || password ? '@' : ''}${u.host}${db ? `/${db}` : ''}`;
  return {
    options: {
      host: u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
      port: u.port ? Number(u.port) : 6379,
      db,
      ...(username ? { username } : {}),
      ...(password ? { password } : {}),
      ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
      // BullMQ's workers block on Redis: commands wait for a reconnect instead of failing.
      maxRetriesPerRequest: null,
    },
    display,
    secrets: password ? [...new Set([password, u.password, encodeURIComponent(password)])] : [],
  };
}

/** For text that did not even parse as a URL: hide whatever sits between '//' and '@'. */
function redactUrlText(text: string): string {
  return text.replace(/\/\/[^@/]*@/, '//***@');
}

export function redact(text: string, target: RedisTarget): string {
  let out = text;
  for (const s of target.secrets) out = out.split(s).join('***');
  return out;
}

/** An error from Redis or BullMQ as a one-line UsageError that names the (redacted) server. */
export function redactError(err: unknown, target: RedisTarget, doing: string): Error {
  if (err instanceof UsageError) return new UsageError(redact(err.message, target));
  const message = redact((err as Error)?.message ?? String(err), target).split('\n')[0];
  return new UsageError(`${doing} at ${target.display}: ${message}`);
}

/**
 * Proves the server answers (and accepts the password) before any work, failing in seconds instead of
 * retrying forever as a long-lived worker connection does.
 */
export async function checkRedis(target: RedisTarget, doing: string): Promise<void> {
  const client = new Redis({ ...target.options, lazyConnect: true, connectTimeout: 5000, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  let cause: Error | undefined;
  client.on('error', (err: Error) => (cause ??= err)); // the socket's error; connect() only says the connection closed
  try {
    await client.connect();
    await client.ping();
  } catch (err) {
    const code = ((cause ?? err) as NodeJS.ErrnoException).code;
    throw redactError(code ? new Error(code === 'ECONNREFUSED' ? 'connection refused (is redis-server running there?)' : code) : (cause ?? err), target, `cannot ${doing}`);
  } finally {
    client.disconnect();
  }
}

/** A plain client for the queue's own keys (the manifest lock). */
export function openClient(target: RedisTarget): Redis {
  const client = new Redis({ ...target.options });
  client.on('error', () => undefined); // reconnects on its own; commands wait (maxRetriesPerRequest null)
  return client;
}

/** The same options typed for BullMQ, which declares its own (structurally equal) RedisOptions. */
export function bullConnection(target: RedisTarget): ConnectionOptions {
  return target.options as ConnectionOptions;
}
