// Reads `server.grpc` and `envoy:` (config/envoy_config.h) with the loader's
// MapReader, every problem with its line. Used only by the config loader.
// Not thread-safe (one call per load).
#pragma once

#include <string_view>

#include "config/envoy_config.h"
#include "config/map_reader.h"

namespace tollgate {

// `server.grpc`, from the `server:` section.
void read_grpc(ErrorSink& errors, const MapReader& server_section, GrpcConfig& grpc);
// `envoy:`, from the top-level map.
void read_envoy(ErrorSink& errors, const MapReader& root, EnvoyConfig& envoy);

// Null when `listen` is a gRPC address tollgate accepts ("host:port" with a
// port 0–65535, "[v6]:port", or "unix:/path"), else why not.
const char* grpc_listen_problem(std::string_view listen);

}  // namespace tollgate
