import type { OidcConfig } from '../../config/app-config.js';
import { roleFromClaims, usernameFromClaims } from './oidc-claims.js';

const config = (adminClaim?: { name: string; value: string }): OidcConfig => ({
  issuer: 'https://login.example.com',
  audience: 'https://files.example.com',
  usernameClaim: 'preferred_username',
  adminClaim,
  jwksCooldownSeconds: 30,
});

describe('roleFromClaims', () => {
  it.each([
    [
      'a list holding the value',
      { name: 'groups', value: 'admins' },
      { groups: ['x', 'admins'] },
      'admin',
    ],
    ['a list without it', { name: 'groups', value: 'admins' }, { groups: ['x'] }, 'user'],
    ['a string equal to it', { name: 'role', value: 'admin' }, { role: 'admin' }, 'admin'],
    ['a boolean true', { name: 'is_admin', value: 'true' }, { is_admin: true }, 'admin'],
    [
      'a dotted path (Keycloak)',
      { name: 'realm_access.roles', value: 'a' },
      { realm_access: { roles: ['a'] } },
      'admin',
    ],
    [
      'a namespaced claim with dots in its name (Auth0)',
      { name: 'https://example.com/roles', value: 'a' },
      { 'https://example.com/roles': ['a'] },
      'admin',
    ],
    ['a missing claim', { name: 'groups', value: 'admins' }, {}, 'user'],
    ['a path through a non-object', { name: 'a.b', value: 'x' }, { a: 'x' }, 'user'],
  ])('gives %s the right role', (_case, adminClaim, claims, role) => {
    expect(roleFromClaims(claims, config(adminClaim))).toBe(role);
  });

  it('makes nobody an admin when no claim is configured', () => {
    expect(roleFromClaims({ groups: ['admins'] }, config())).toBe('user');
  });
});

describe('usernameFromClaims', () => {
  it.each([
    ['the claim as it is', { preferred_username: 'alice.b-c_d', sub: 's' }, 'alice.b-c_d'],
    [
      'characters a username may not hold as _',
      { preferred_username: 'Zoë M@x', sub: 's' },
      'Zo__M_x',
    ],
    ['the subject when the claim is missing', { sub: 'svc-42' }, 'svc-42'],
    ['the subject when the claim is not a string', { preferred_username: 7, sub: 'svc' }, 'svc'],
    ['at most 64 characters', { preferred_username: 'x'.repeat(100) }, 'x'.repeat(64)],
    ['"user" when nothing is left', { preferred_username: '' }, 'user'],
  ])('takes %s', (_case, claims, username) => {
    expect(usernameFromClaims(claims, config())).toBe(username);
  });
});
