// GET /metrics: the daemon's figures in the Prometheus text exposition
// format 0.0.4, checked by `promtool check metrics` in the tests.
//
// Cardinality guard: labels take only values from the config — a decision
// code, a contract key, a key-class pattern, a limit name, a front — never a
// dynamic key (an IP, a user): those are counted in aggregate only, so a
// scrape stays the same size however many keys the table holds.
// Thread-safety: render() reads relaxed counters and the engine in force
// (call it inside the data service's batch, as every request is).
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "commands/data_service.h"
#include "fronts/http/http_front.h"

namespace tollgate::fronts {

class MetricsPage {
 public:
  MetricsPage(DataService& data, const HttpFront* http) : data_(data), http_(http) {}
  void render(std::string& out) const;

  // A label value escaped for the text format (\\, \", \n).
  static std::string escape_label(std::string_view value);

 private:
  DataService& data_;
  const HttpFront* http_;
};

}  // namespace tollgate::fronts
