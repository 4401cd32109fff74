/**
 * Makes quorum queue leaders of the test cluster busy for a while, as a loaded broker does:
 * their Ra server processes are suspended (sys:suspend) for `busyMs`, then resumed for `idleMs`,
 * over and over for `forMs`, by a process spawned on node 1 (one CLI call; the nodes do the
 * timing). A busy leader answers nothing; RabbitMQ 3.10 then reports a passive declare of the
 * queue as 0 messages after its 250 ms timeout — the trap src/broker/confirmed-count.ts closes.
 */
import { rabbitmqctl } from './cluster.js';

export interface BusyLeaders {
  vhost: string;
  /** Only quorum queues whose names start with one of these (all of the vhost's when empty). */
  prefixes: string[];
  busyMs: number;
  idleMs: number;
  forMs: number;
}

/** An Erlang binary literal of `s` (its UTF-8 bytes: any vhost or queue name is safe). */
const bin = (s: string) => `<<${[...Buffer.from(s, 'utf8')].join(',')}>>`;

/** Starts the busy loop and returns when it runs (≈ the CLI's start-up, a few seconds). */
export async function makeLeadersBusy(o: BusyLeaders): Promise<void> {
  const prefixes = `[${o.prefixes.map(bin).join(',')}]`;
  const script = `VH = ${bin(o.vhost)}, Ps = ${prefixes}, Busy = ${o.busyMs}, Idle = ${o.idleMs},
    Until = erlang:monotonic_time(millisecond) + ${o.forMs},
    Match = fun(N) -> Ps =:= [] orelse lists:any(fun(P) -> binary:longest_common_prefix([N, P]) =:= byte_size(P) end, Ps) end,
    Loop = fun L() ->
      case erlang:monotonic_time(millisecond) < Until of
        false -> ok;
        true ->
          Ls = [amqqueue:get_pid(Q) || Q <- rabbit_amqqueue:list(VH), amqqueue:get_type(Q) =:= rabbit_quorum_queue, Match(element(4, amqqueue:get_name(Q)))],
          [catch sys:suspend(P, 1000) || P <- Ls], timer:sleep(Busy),
          [catch sys:resume(P, 1000) || P <- Ls], timer:sleep(Idle), L()
      end end,
    spawn(Loop), ok.`;
  await rabbitmqctl(0, 'eval', script.replace(/\s+/g, ' '));
}
