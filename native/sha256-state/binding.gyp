{
  "targets": [
    {
      "target_name": "sha256_state",
      "sources": ["src/sha256_state.c"],
      "defines": ["NAPI_VERSION=8", "OPENSSL_API_COMPAT=0x10100000L", "OPENSSL_SUPPRESS_DEPRECATED"]
    }
  ]
}
