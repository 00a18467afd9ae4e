#include "config/envoy_reader.h"

#include <charconv>
#include <set>

namespace tollgate {
namespace {

inline constexpr std::pair<std::string_view, EnvoyDefault> kEnvoyDefaultNames[] = {
    {"ok", EnvoyDefault::kOk}, {"over_limit", EnvoyDefault::kOverLimit}};

}  // namespace

const char* grpc_listen_problem(std::string_view listen) {
  if (listen.starts_with("unix:")) {
    if (listen.size() == 5) return "a Unix socket address needs a path after 'unix:'";
    if (listen.size() - 5 > 107) return "the Unix socket path is longer than 107 bytes";
    return nullptr;
  }
  const size_t colon = listen.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return "expected host:port (e.g. 127.0.0.1:8081) or unix:/path";
  std::string_view host = listen.substr(0, colon);
  const std::string_view port = listen.substr(colon + 1);
  if (host.front() == '[') {
    if (host.back() != ']' || host.size() < 3) return "an IPv6 host is written [addr]:port";
  } else if (host.find(':') != std::string_view::npos) {
    return "an IPv6 host is written [addr]:port";
  }
  int value = -1;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value < 0 || value > 65535)
    return "the port must be a number from 0 to 65535 (0: any free port)";
  return nullptr;
}

void read_grpc(ErrorSink& errors, const MapReader& server_section, GrpcConfig& grpc) {
  if (server_section.find("grpc") == nullptr) return;
  const MapReader g = child(errors, server_section, "grpc", {"listen", "threads", "max_descriptors"});
  if (g.read_string("listen", grpc.listen)) {
    if (const char* problem = grpc_listen_problem(grpc.listen)) g.error(*g.find("listen"), problem);
  } else if (g.is_map() && g.find("listen") == nullptr) {
    errors.add(g.line(), g.path_of("listen") + ": required (the address the Rate Limit Service listens on)");
  }
  g.read_integer("threads", grpc.threads, 1, GrpcConfigDefaults::kMaxThreads);
  g.read_integer("max_descriptors", grpc.max_descriptors, 1, GrpcConfigDefaults::kMaxDescriptorsBound);
}

void read_envoy(ErrorSink& errors, const MapReader& root, EnvoyConfig& envoy) {
  const MapReader e = child(errors, root, "envoy", {"unknown_domain", "domains"});
  e.read_choice("unknown_domain", envoy.unknown_domain, kEnvoyDefaultNames);
  const MapReader::Entry* domains = e.find("domains");
  if (domains == nullptr) return;
  const std::string path = e.path_of("domains");
  std::set<std::string, std::less<>> seen;
  size_t index = 0;
  for (const YAML::Node& item : sequence_items(errors, domains->value, path, domains->key_line)) {
    const int line = line_of(item, domains->key_line);
    const std::string item_path = path + "[" + std::to_string(index++) + "]";
    const MapReader d(errors, item, item_path,
                      {"domain", "key", "channel", "purpose", "subject", "unmatched"}, line);
    if (!d.is_map()) continue;
    EnvoyDomainConfig domain;
    domain.line = line;
    for (auto [name, out] : {std::pair<std::string_view, std::string*>{"domain", &domain.domain},
                             {"key", &domain.key}}) {
      if (!d.read_string(name, *out) && d.find(name) == nullptr) {
        errors.add(line, d.path_of(name) + ": required");
      } else if (d.find(name) != nullptr && out->empty()) {
        d.error(*d.find(name), "must not be empty");
      }
    }
    d.read_string("channel", domain.channel);
    d.read_string("purpose", domain.purpose);
    d.read_string("subject", domain.subject);
    d.read_choice("unmatched", domain.unmatched, kEnvoyDefaultNames);
    // One entry key carries one thing: a descriptor entry cannot be both the key and the channel.
    const std::string* named[] = {&domain.key, &domain.channel, &domain.purpose, &domain.subject};
    for (size_t i = 0; i < 4; ++i)
      for (size_t j = i + 1; j < 4; ++j)
        if (!named[i]->empty() && *named[i] == *named[j])
          errors.add(line, item_path + ": entry '" + *named[i] +
                               "' is named for two fields; key, channel, purpose and subject need an entry each");
    if (!domain.domain.empty() && !seen.insert(domain.domain).second) {
      errors.add(line, path + ": domain '" + domain.domain + "' is mapped twice");
      continue;
    }
    envoy.domains.push_back(std::move(domain));
  }
}

}  // namespace tollgate
