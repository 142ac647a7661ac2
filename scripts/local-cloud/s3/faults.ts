/** Protocol-level failures to inject, like toxiproxy: matching authenticated requests get this S3 error. */
import { S3Error } from './errors.ts';

export interface FaultRule {
  /** HTTP method to match (any if omitted). */
  method?: string;
  /** Object key prefix to match, bucket excluded (any request if omitted; bucket-level requests have key ''). */
  keyPrefix?: string;
  /** HTTP status of the injected error, 400..599. */
  status: number;
  /** S3 error code, e.g. 'SlowDown'; defaults from the status. */
  code?: string;
  message?: string;
  /** How many matching requests fail before the rule is spent. */
  times: number;
}

export interface ArmedFault {
  readonly rule: Readonly<FaultRule>;
  /** Requests this rule has failed so far. */
  readonly hits: number;
  readonly remaining: number;
}

export interface FaultInjector {
  /** Make the next `times` matching authenticated requests fail, before they touch the store. */
  add(rule: FaultRule): ArmedFault;
  /** Disarm every rule (the hit counter is kept). */
  clear(): void;
  /** Faults injected since the server started. */
  readonly hits: number;
}

const DEFAULT_FAULT_CODES: Readonly<Record<number, string>> = {
  500: 'InternalError',
  503: 'ServiceUnavailable',
};

export class FaultList implements FaultInjector {
  #armed: Array<{ rule: Readonly<FaultRule>; hits: number; remaining: number }> = [];
  #hits = 0;

  get hits(): number {
    return this.#hits;
  }

  add(rule: FaultRule): ArmedFault {
    if (!Number.isInteger(rule.times) || rule.times < 1) throw new RangeError(`fault times must be a positive integer, got ${rule.times}`);
    if (!Number.isInteger(rule.status) || rule.status < 400 || rule.status > 599) {
      throw new RangeError(`fault status must be 400..599, got ${rule.status}`);
    }
    const armed = { rule: Object.freeze({ ...rule }), hits: 0, remaining: rule.times };
    this.#armed.push(armed);
    return {
      rule: armed.rule,
      get hits() {
        return armed.hits;
      },
      get remaining() {
        return armed.remaining;
      },
    };
  }

  clear(): void {
    for (const armed of this.#armed) armed.remaining = 0;
    this.#armed = [];
  }

  /** The error for this request if a rule matches it (spending one of that rule's times). */
  take(method: string, key: string): S3Error | undefined {
    const armed = this.#armed.find(
      ({ rule, remaining }) =>
        remaining > 0 &&
        (rule.method === undefined || rule.method.toUpperCase() === method.toUpperCase()) &&
        (rule.keyPrefix === undefined || key.startsWith(rule.keyPrefix)),
    );
    if (!armed) return undefined;
    armed.remaining -= 1;
    armed.hits += 1;
    this.#hits += 1;
    if (armed.remaining === 0) this.#armed = this.#armed.filter((a) => a !== armed);
    const code = armed.rule.code ?? DEFAULT_FAULT_CODES[armed.rule.status] ?? 'InjectedFault';
    return new S3Error(armed.rule.status, code, armed.rule.message ?? `Injected fault: ${code}`);
  }
}
