// SHA-256 whose state is a plain buffer that can be saved and loaded: OpenSSL's SHA256_CTX, from
// the OpenSSL that Node itself links and exports (its SHA-NI/AVX code), kept in memory the caller
// owns. Node's crypto.Hash cannot export its state; a resumable upload must carry it between
// requests and instances. The buffer is the context itself: no copy per call.
#include <node_api.h>
#include <openssl/sha.h>
#include <string.h>

#define CHECK(call)                                                  \
  if ((call) != napi_ok) {                                           \
    napi_throw_error(env, NULL, "sha256-state: " #call " failed");   \
    return NULL;                                                     \
  }

static SHA256_CTX *context_of(napi_env env, napi_value value) {
  void *data;
  size_t length;
  if (napi_get_buffer_info(env, value, &data, &length) != napi_ok || length != sizeof(SHA256_CTX)) {
    napi_throw_type_error(env, NULL, "sha256-state: not a state buffer");
    return NULL;
  }
  // A saved state comes back from a database: one whose count of buffered bytes is out of range
  // would have OpenSSL write past its block.
  if (((SHA256_CTX *)data)->num >= SHA256_CBLOCK) {
    napi_throw_range_error(env, NULL, "sha256-state: not a valid state");
    return NULL;
  }
  return (SHA256_CTX *)data;
}

// init(state): a fresh hash in `state`.
static napi_value init(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  SHA256_CTX *ctx = context_of(env, argv[0]);
  if (ctx == NULL) return NULL;
  SHA256_Init(ctx);
  return NULL;
}

// update(state, bytes): hashes `bytes` on.
static napi_value update(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  SHA256_CTX *ctx = context_of(env, argv[0]);
  if (ctx == NULL) return NULL;
  void *data;
  size_t length;
  if (napi_get_buffer_info(env, argv[1], &data, &length) != napi_ok) {
    napi_throw_type_error(env, NULL, "sha256-state: bytes must be a Buffer");
    return NULL;
  }
  SHA256_Update(ctx, data, length);
  return NULL;
}

// digest(state): the 32-byte digest of what `state` has seen; `state` itself is left as it was.
static napi_value digest(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  SHA256_CTX *ctx = context_of(env, argv[0]);
  if (ctx == NULL) return NULL;
  SHA256_CTX copy;
  memcpy(&copy, ctx, sizeof copy);
  void *out;
  napi_value result;
  CHECK(napi_create_buffer(env, SHA256_DIGEST_LENGTH, &out, &result));
  SHA256_Final(out, &copy);
  return result;
}

static napi_value init_module(napi_env env, napi_value exports) {
  napi_value fn, size;
  CHECK(napi_create_function(env, "init", NAPI_AUTO_LENGTH, init, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "init", fn));
  CHECK(napi_create_function(env, "update", NAPI_AUTO_LENGTH, update, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "update", fn));
  CHECK(napi_create_function(env, "digest", NAPI_AUTO_LENGTH, digest, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "digest", fn));
  CHECK(napi_create_uint32(env, sizeof(SHA256_CTX), &size));
  CHECK(napi_set_named_property(env, exports, "stateBytes", size));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init_module)
