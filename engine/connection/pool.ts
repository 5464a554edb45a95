// One connection per endpoint for the whole run. Several inventory hosts on
// one machine (same user@address:port) share it, concurrent requests for an
// endpoint share one dial, and host keys accepted with --accept-new-host-keys
// are written to known_hosts together instead of once per host. A dial that
// fails for a reason that may pass (sshd still starting, a reset, a timeout)
// is tried again after a growing pause; a refused login or a host key
// problem is final at once.

import { RunbookError, UnreachableError } from '../errors.js';
import type { InventoryHost } from '../inventory/types.js';
import { appendKnownHosts, defaultKnownHostsFile, type HostKey } from './known-hosts.js';
import { LocalConnection } from './local.js';
import { isTransientConnectFailure, SshConnection, type SshOptions, type SshTarget } from './ssh.js';
import type { Connection } from './types.js';

export const DEFAULT_CONNECT_RETRIES = 3;
export const DEFAULT_CONNECT_RETRY_DELAY_MS = 500;

/** A dial that failed and will be tried again. */
export interface ConnectRetry {
  /** Inventory name of the host being dialled. */
  host: string;
  /** The attempt that failed, from 1. */
  attempt: number;
  /** The pause before the next attempt. */
  delayMs: number;
  error: UnreachableError;
}

export interface ConnectionPoolOptions {
  /** Record unknown host keys instead of refusing them. Changed keys are always refused. */
  acceptNewHostKeys?: boolean | undefined;
  /** known_hosts for hosts that do not name their own. Default ~/.ssh/known_hosts. */
  knownHostsFile?: string | undefined;
  /** Channel limit per SSH connection (default 8). */
  maxChannelsPerHost?: number | undefined;
  connectTimeoutMs?: number | undefined;
  keepaliveIntervalMs?: number | undefined;
  /** Further attempts after a transient dial failure (refused, reset, timeout, closed during the handshake). Default 3; 0 turns retrying off. */
  connectRetries?: number | undefined;
  /** Pause before the first retry, doubled for each one after (500, 1000, 2000 ms by default). */
  connectRetryDelayMs?: number | undefined;
  /** Told about each failed attempt that will be retried (reporters can say why a host is slow to connect). */
  onConnectRetry?: ((retry: ConnectRetry) => void) | undefined;
}

export class ConnectionPool {
  readonly #options: ConnectionPoolOptions;
  /** Dials by endpoint. A failed dial stays here: the host is unreachable for this run, and asking again must not cost another timeout. */
  readonly #connections = new Map<string, Promise<Connection>>();
  #pendingKeys: Array<{ file: string; key: HostKey }> = [];
  /** While connectAll dials, accepted keys wait for its single write. */
  #batching = 0;
  #keyWrites: Promise<void> = Promise.resolve();

  /** Aborted by closeAll: dials waiting to retry give up instead of keeping the run alive. */
  readonly #closing = new AbortController();

  constructor(options: ConnectionPoolOptions = {}) {
    const retries = options.connectRetries ?? DEFAULT_CONNECT_RETRIES;
    const delay = options.connectRetryDelayMs ?? DEFAULT_CONNECT_RETRY_DELAY_MS;
    if (!Number.isInteger(retries) || retries < 0) throw new RangeError(`connectRetries must be a whole number ≥ 0, not ${retries}`);
    if (!Number.isFinite(delay) || delay < 0) throw new RangeError(`connectRetryDelayMs must be a number of milliseconds ≥ 0, not ${delay}`);
    this.#options = options;
  }

  /** The endpoint a host is reached at; hosts with the same one share a connection. */
  static endpoint(host: InventoryHost): string {
    return host.connection === 'local' ? 'local' : `${host.user}@${host.address.toLowerCase()}:${host.port}`;
  }

  /** The host's connection, opened on first use. Rejects with UnreachableError (HostKeyError for key problems). */
  get(host: InventoryHost): Promise<Connection> {
    const endpoint = ConnectionPool.endpoint(host);
    let connection = this.#connections.get(endpoint);
    if (!connection) {
      connection = this.#dial(host);
      // Callers see the rejection; the copy kept here must not count as unhandled.
      connection.catch(() => undefined);
      this.#connections.set(endpoint, connection);
    }
    return connection;
  }

  /**
   * Dials every host in parallel before any task runs. With
   * acceptNewHostKeys, all newly seen keys are recorded in one write per
   * known_hosts file once every dial has settled. Returns the hosts that
   * could not be reached (by inventory name); the others are connected.
   */
  async connectAll(hosts: Iterable<InventoryHost>): Promise<Map<string, UnreachableError>> {
    const list = [...hosts];
    this.#batching++;
    let results: PromiseSettledResult<Connection>[];
    try {
      results = await Promise.allSettled(list.map((host) => this.get(host)));
    } finally {
      this.#batching--;
    }
    await this.#recordKeys();
    const failures = new Map<string, UnreachableError>();
    results.forEach((result, i) => {
      if (result.status === 'rejected') failures.set(list[i]!.name, asUnreachable(result.reason, list[i]!));
    });
    return failures;
  }

  async closeAll(): Promise<void> {
    this.#closing.abort();
    const connections = [...this.#connections.values()];
    this.#connections.clear();
    await Promise.allSettled(connections.map(async (c) => (await c).close()));
    // Keys of hosts that connected are worth keeping even if the run stops early.
    await this.#recordKeys().catch(() => undefined);
  }

  async #dial(host: InventoryHost): Promise<Connection> {
    if (host.connection === 'local') return new LocalConnection();
    const connection = await this.#connectWithRetries(
      {
        name: host.name,
        address: host.address,
        port: host.port,
        user: host.user,
        auth: host.auth,
        knownHostsFile: host.knownHostsFile ?? this.#options.knownHostsFile ?? defaultKnownHostsFile(),
      },
      {
        acceptNewHostKeys: this.#options.acceptNewHostKeys,
        onNewHostKey: (key, file) => this.#pendingKeys.push({ file, key }),
        maxChannels: this.#options.maxChannelsPerHost,
        connectTimeoutMs: this.#options.connectTimeoutMs,
        keepaliveIntervalMs: this.#options.keepaliveIntervalMs,
      },
    );
    if (this.#batching === 0) {
      try {
        await this.#recordKeys();
      } catch (err) {
        await connection.close();
        throw asUnreachable(err, host);
      }
    }
    return connection;
  }

  /**
   * SshConnection.connect, tried again after transient failures with
   * exponential backoff. Only the final failure reaches the caller, and it
   * says how many attempts were made.
   */
  async #connectWithRetries(target: SshTarget, options: SshOptions): Promise<SshConnection> {
    const retries = this.#options.connectRetries ?? DEFAULT_CONNECT_RETRIES;
    const baseDelay = this.#options.connectRetryDelayMs ?? DEFAULT_CONNECT_RETRY_DELAY_MS;
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        return await SshConnection.connect(target, options);
      } catch (err) {
        // A host key or login problem is thrown as it is (its class matters to the caller), even after earlier retries.
        if (!isTransientConnectFailure(err)) throw err;
        if (attempt > retries || this.#closing.signal.aborted) throw attempt === 1 ? err : afterAttempts(err, attempt, Date.now() - started);
        const delayMs = baseDelay * 2 ** (attempt - 1);
        this.#options.onConnectRetry?.({ host: target.name, attempt, delayMs, error: err as UnreachableError });
        await pause(delayMs, this.#closing.signal);
        if (this.#closing.signal.aborted) throw afterAttempts(err, attempt, Date.now() - started);
      }
    }
  }

  /** Writes every pending key, one write per file; writes never interleave. */
  #recordKeys(): Promise<void> {
    const write = this.#keyWrites.then(async () => {
      const pending = this.#pendingKeys;
      this.#pendingKeys = [];
      const byFile = new Map<string, HostKey[]>();
      for (const { file, key } of pending) byFile.set(file, [...(byFile.get(file) ?? []), key]);
      for (const [file, keys] of byFile) {
        try {
          await appendKnownHosts(file, keys);
        } catch (err) {
          throw new RunbookError(`cannot record ${keys.length} new host key${keys.length === 1 ? '' : 's'} in ${file}: ${(err as Error).message}`, {
            hint: 'check that the known_hosts file and its directory are writable',
            cause: err,
          });
        }
      }
    });
    this.#keyWrites = write.catch(() => undefined);
    return write;
  }
}

/** The last attempt's error, saying how long runbook kept trying. */
function afterAttempts(err: unknown, attempts: number, elapsedMs: number): unknown {
  if (!(err instanceof UnreachableError)) return err;
  return new UnreachableError(`${err.message} (gave up after ${attempts} attempts over ${(elapsedMs / 1000).toFixed(1)} s)`, {
    host: err.host,
    hint: err.hint,
    cause: err,
  });
}

/** Waits `ms`, or less when `signal` fires. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

function asUnreachable(err: unknown, host: InventoryHost): UnreachableError {
  if (err instanceof UnreachableError) return err;
  return new UnreachableError(`cannot connect to ${host.name}: ${(err as Error).message ?? String(err)}`, { host: host.name, cause: err });
}
