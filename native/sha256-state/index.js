'use strict';
// A native addon loads only through require().
// eslint-disable-next-line @typescript-eslint/no-require-imports
module.exports = require('./build/Release/sha256_state.node');
