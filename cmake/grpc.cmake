# The gRPC front (README, "Envoy rate limit service"): the messages of
# proto/ generated at build time (protoc + grpc_cpp_plugin) and the server
# glue in daemon/fronts/envoy/grpc/, as the library tollgate_grpc. Only
# tollgated, the gRPC tests (tests/grpc/) and the gRPC benchmark link it:
# tollgate_core and unit_tests, which every build (ASan, TSan, fuzz)
# compiles, stay free of gRPC and protobuf. The mapping of descriptors onto
# CHECK calls is plain C++ in daemon/fronts/envoy/ (in tollgate_core), so
# the unit tests cover it in every build.
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)

set(TOLLGATE_PROTO_DIR ${CMAKE_SOURCE_DIR}/proto)
set(TOLLGATE_PROTO_OUT ${CMAKE_BINARY_DIR}/proto_gen)
set(TOLLGATE_PROTOS
  envoy/config/core/v3/base.proto
  envoy/extensions/common/ratelimit/v3/ratelimit.proto
  envoy/service/ratelimit/v3/rls.proto
  grpc/health/v1/health.proto)
set(TOLLGATE_GRPC_SERVICES
  envoy/service/ratelimit/v3/rls.proto
  grpc/health/v1/health.proto)

set(TOLLGATE_PROTO_SOURCES "")
foreach(proto ${TOLLGATE_PROTOS})
  string(REGEX REPLACE "\\.proto$" "" stem ${proto})
  set(outputs ${TOLLGATE_PROTO_OUT}/${stem}.pb.cc ${TOLLGATE_PROTO_OUT}/${stem}.pb.h)
  set(plugin_args "")
  if(proto IN_LIST TOLLGATE_GRPC_SERVICES)
    list(APPEND outputs ${TOLLGATE_PROTO_OUT}/${stem}.grpc.pb.cc ${TOLLGATE_PROTO_OUT}/${stem}.grpc.pb.h)
    set(plugin_args --grpc_out=${TOLLGATE_PROTO_OUT}
                    --plugin=protoc-gen-grpc=$<TARGET_FILE:gRPC::grpc_cpp_plugin>)
  endif()
  add_custom_command(
    OUTPUT ${outputs}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${TOLLGATE_PROTO_OUT}
    COMMAND protobuf::protoc --cpp_out=${TOLLGATE_PROTO_OUT} ${plugin_args}
            -I ${TOLLGATE_PROTO_DIR} ${TOLLGATE_PROTO_DIR}/${proto}
    DEPENDS ${TOLLGATE_PROTO_DIR}/${proto} protobuf::protoc gRPC::grpc_cpp_plugin
    COMMENT "protoc ${proto}"
    VERBATIM)
  foreach(out ${outputs})
    if(out MATCHES "\\.cc$")
      list(APPEND TOLLGATE_PROTO_SOURCES ${out})
    endif()
  endforeach()
endforeach()

# Generated code: its own warnings are not ours to fix.
set_source_files_properties(${TOLLGATE_PROTO_SOURCES} PROPERTIES COMPILE_OPTIONS "-Wno-unused-parameter;-w")

file(GLOB_RECURSE TOLLGATE_GRPC_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/daemon/fronts/envoy/grpc/*.cc)
add_library(tollgate_grpc STATIC ${TOLLGATE_PROTO_SOURCES} ${TOLLGATE_GRPC_SOURCES})
# SYSTEM: generated headers (and gRPC's) do not trip -Wall -Wextra -Werror in our code.
target_include_directories(tollgate_grpc SYSTEM PUBLIC ${TOLLGATE_PROTO_OUT})
target_link_libraries(tollgate_grpc PUBLIC tollgate_core gRPC::grpc++ protobuf::libprotobuf)
