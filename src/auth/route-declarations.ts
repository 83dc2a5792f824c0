import { Injectable, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';

/** A route handler, or its controller's class: what Nest keeps metadata on. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
type Target = Function;

/**
 * What a route declares with `@Public()`, `@Roles()` or `@Scopes()` (its handler's, else its
 * controller's), as the guards ask for it on every request. Declarations are fixed once the
 * application has started, so each is read through the `Reflector` once per handler and kept:
 * three lookups of reflect-metadata on each request were about 1% of a small download's time.
 */
@Injectable()
export class RouteDeclarations {
  /** By handler, then key: the value, and the class it was read with. */
  private readonly known = new WeakMap<Target, Map<string, { type: Target; value: unknown }>>();

  constructor(private readonly reflector: Reflector) {}

  /** The value of `key` declared on the route that `context` runs, or undefined. */
  get<T>(key: string, context: ExecutionContext): T | undefined {
    const handler = context.getHandler();
    const type = context.getClass();
    let declared = this.known.get(handler);
    if (declared === undefined) this.known.set(handler, (declared = new Map()));
    const entry = declared.get(key);
    // A handler that two controllers inherit may be declared differently by each of them.
    if (entry !== undefined && entry.type === type) return entry.value as T | undefined;
    const value = this.reflector.getAllAndOverride<T | undefined>(key, [handler, type]);
    declared.set(key, { type, value });
    return value;
  }
}
