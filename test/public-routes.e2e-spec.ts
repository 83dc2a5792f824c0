import { randomUUID } from 'node:crypto';
import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import { ModulesContainer } from '@nestjs/core';
import { IS_PUBLIC, REQUIRED_SCOPES } from '../src/auth/auth.decorators.js';
import { TestApp } from './support/test-app.js';

/** The routes API.md marks public. Anything else must ask for a token. */
const DECLARED_PUBLIC = [
  'GET /health',
  'GET /health/live',
  'GET /health/ready',
  'POST /auth/login',
  'GET /files/:id/signed-download',
  'HEAD /files/:id/signed-download',
  // How a tus client learns what the server speaks, before it has a token in use.
  'OPTIONS /files/uploads',
  // Not a user's route: Prometheus scrapes it with METRICS_TOKEN (MetricsTokenGuard).
  'GET /metrics',
];

/** The routes closed to API keys: keys are managed with a session, never with a key. */
const CLOSED_TO_API_KEYS = [
  'GET /auth/api-keys',
  'POST /auth/api-keys',
  'DELETE /auth/api-keys/:id',
];

interface Route {
  method: string;
  path: string;
  isPublic: boolean;
  /** What `@Scopes` declares (on the handler, else its class); undefined when nothing. */
  scopes: string[] | undefined;
}

/** Every route the application registered, read from its controllers' metadata. */
function registeredRoutes(t: TestApp): Route[] {
  const routes: Route[] = [];
  for (const module of t.app.get(ModulesContainer).values()) {
    for (const { metatype } of module.controllers.values()) {
      if (!metatype) continue;
      const prefix = String(Reflect.getMetadata(PATH_METADATA, metatype) ?? '');
      const prototype = metatype.prototype as Record<string, unknown>;
      for (const name of Object.getOwnPropertyNames(prototype).filter((n) => n !== 'constructor')) {
        const handler = prototype[name];
        if (typeof handler !== 'function' || !Reflect.hasMetadata(PATH_METADATA, handler)) continue;
        const method =
          RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod];
        const path = `/${prefix}/${String(Reflect.getMetadata(PATH_METADATA, handler))}`
          .replace(/\/+/g, '/')
          .replace(/\/$/, '');
        const isPublic =
          Reflect.getMetadata(IS_PUBLIC, handler) === true ||
          Reflect.getMetadata(IS_PUBLIC, metatype) === true;
        const scopes = (Reflect.getMetadata(REQUIRED_SCOPES, handler) ??
          Reflect.getMetadata(REQUIRED_SCOPES, metatype)) as string[] | undefined;
        routes.push({ method, path, isPublic, scopes });
      }
    }
  }
  return routes;
}

describe('every route but the declared public ones needs a token', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await TestApp.start('sqlite');
  });
  afterAll(() => t.close());

  it('finds the routes, and @Public() marks exactly the declared ones', () => {
    const routes = registeredRoutes(t);
    expect(routes.length).toBeGreaterThanOrEqual(7);
    const isPublic = routes.filter((r) => r.isPublic).map((r) => `${r.method} ${r.path}`);
    expect(isPublic.sort()).toEqual([...DECLARED_PUBLIC].sort());
  });

  it('has every other route say which scopes an API key needs, but the ones closed to keys', () => {
    const routes = registeredRoutes(t).filter((r) => !r.isPublic);
    const undeclared = routes.filter((r) => r.scopes === undefined);
    expect(undeclared.map((r) => `${r.method} ${r.path}`).sort()).toEqual(
      [...CLOSED_TO_API_KEYS].sort(),
    );
  });

  it('answers 401 with WWW-Authenticate to every non-public route called without a token', async () => {
    const protectedRoutes = registeredRoutes(t).filter((r) => !r.isPublic);
    for (const { method, path } of protectedRoutes) {
      const url = path.replace(/:[A-Za-z]+/g, randomUUID());
      const response = await t.http[method.toLowerCase() as 'get'](url);
      expect({ route: `${method} ${path}`, status: response.status }).toEqual({
        route: `${method} ${path}`,
        status: 401,
      });
      expect(response.headers['www-authenticate']).toBe('Bearer');
    }
  });
});
