// Jest runs in native ESM mode (Nest 12 ships ESM only): see the "test" script in package.json.
/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }],
  },
  // Sources import their siblings as "./x.js" (Node's ESM resolution); Jest resolves the .ts file.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/test/**/*.e2e-spec.ts'],
  // One Ceph RGW for the S3 tests of the whole run (or TEST_S3_ENDPOINT): see global-setup.ts.
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 60_000,
  // Each file starts its own apps and servers; two at once keep both cores busy.
  maxWorkers: 2,
};
