{
  "targets": [
    {
      "target_name": "chainlanes_native",
      "sources": ["src/addon.cc", "src/loop-turns.cc"],
      # node_addon_api_except turns on C++ exceptions so argument errors can simply be thrown.
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "defines": [
        "NAPI_VERSION=8",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        # SHA256_Init/Update/Final are deprecated in OpenSSL 3 but measured fastest (see addon.cc).
        "OPENSSL_SUPPRESS_DEPRECATED"
      ],
      "cflags": ["-fvisibility=hidden"],
      "cflags_cc": ["-fvisibility=hidden", "-Wall", "-Wextra"],
      # No libcrypto on the link line on purpose: the node binary bundles OpenSSL and exports
      # its symbols, so the addon binds to the very OpenSSL the process already runs
      # (node-gyp puts <nodedir>/include/node, which holds Node's openssl/ headers, first).
      "xcode_settings": {
        "OTHER_CFLAGS": ["-fvisibility=hidden"],
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES"
      }
    }
  ]
}
