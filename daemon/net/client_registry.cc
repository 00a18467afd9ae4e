#include "net/client_registry.h"

#include <uv.h>

#include <fmt/format.h>

#include <algorithm>

#include "net/worker.h"

namespace tollgate {

void ClientRecord::set_name(std::string_view name) {
  std::lock_guard lock(mutex_);
  name_.assign(name);
}

void ClientRecord::set_lib(std::string_view lib_name, std::string_view lib_ver) {
  std::lock_guard lock(mutex_);
  lib_name_.assign(lib_name);
  lib_ver_.assign(lib_ver);
}

std::string ClientRecord::name() const {
  std::lock_guard lock(mutex_);
  return name_;
}

std::pair<std::string, std::string> ClientRecord::lib() const {
  std::lock_guard lock(mutex_);
  return {lib_name_, lib_ver_};
}

uint64_t monotonic_ms() { return uv_hrtime() / 1000000; }

std::shared_ptr<ClientRecord> ClientRegistry::add(std::shared_ptr<ClientRecord> record) {
  std::lock_guard lock(mutex_);
  records_[record->id] = record;
  return record;
}

void ClientRegistry::remove(uint64_t id) {
  std::shared_ptr<ClientRecord> gone;  // freed after the lock, if this was the last owner
  std::lock_guard lock(mutex_);
  auto it = records_.find(id);
  if (it == records_.end()) return;
  gone = std::move(it->second);
  records_.erase(it);
}

std::vector<std::shared_ptr<ClientRecord>> ClientRegistry::snapshot() const {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<ClientRecord>> out;
  out.reserve(records_.size());
  for (const auto& [id, r] : records_) out.push_back(r);
  return out;
}

std::shared_ptr<ClientRecord> ClientRegistry::find(uint64_t id) const {
  std::lock_guard lock(mutex_);
  auto it = records_.find(id);
  return it == records_.end() ? nullptr : it->second;
}

size_t ClientRegistry::size() const {
  std::lock_guard lock(mutex_);
  return records_.size();
}

size_t ClientRegistry::kill(const ClientFilter& f) {
  std::vector<std::pair<Worker*, uint64_t>> victims;
  {
    std::lock_guard lock(mutex_);
    if (f.user_none) return 0;
    for (const auto& [id, r] : records_) {
      if (f.id != 0 && id != f.id) continue;
      if (f.skip_id != 0 && id == f.skip_id) continue;
      if (!f.addr.empty() && r->addr != f.addr) continue;
      if (!f.laddr.empty() && r->laddr != f.laddr) continue;
      if (f.admin >= 0 && r->admin != (f.admin == 1)) continue;
      victims.emplace_back(r->owner, id);
    }
  }
  // Outside the registry lock: the worker takes its own.
  for (auto [worker, id] : victims)
    if (worker != nullptr) worker->kill_client(id);
  return victims.size();
}

std::string ClientRegistry::format(const ClientRecord& r, uint64_t now_ms) {
  const uint64_t last = r.last_command_ms.load(std::memory_order_relaxed);
  const uint64_t age = now_ms > r.created_ms ? (now_ms - r.created_ms) / 1000 : 0;
  const uint64_t idle = now_ms > last ? (now_ms - last) / 1000 : 0;
  const int64_t multi = r.multi.load(std::memory_order_relaxed);
  const char* cmd = r.last_command.load(std::memory_order_relaxed);
  const uint64_t obl = r.obl.load(std::memory_order_relaxed);
  auto [lib_name, lib_ver] = r.lib();
  std::string flags;
  if (multi >= 0) flags += 'x';
  if (flags.empty()) flags = "N";
  std::string cmd_name = cmd != nullptr ? cmd : "NULL";
  for (char& c : cmd_name) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return fmt::format("id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db=0 sub=0 psub=0 ssub=0 "
                     "multi={} qbuf={} qbuf-free={} obl={} oll=0 omem={} tot-mem={} events=r cmd={} "
                     "user=default lib-name={} lib-ver={} resp={} admin={}",
                     r.id, r.addr, r.laddr, r.fd, r.name(), age, idle, flags, multi,
                     r.qbuf.load(std::memory_order_relaxed),
                     r.imem.load(std::memory_order_relaxed) - std::min(r.imem.load(std::memory_order_relaxed),
                                                                        r.qbuf.load(std::memory_order_relaxed)),
                     obl, r.omem.load(std::memory_order_relaxed),
                     r.imem.load(std::memory_order_relaxed) + r.omem.load(std::memory_order_relaxed), cmd_name,
                     lib_name, lib_ver, r.protocol.load(std::memory_order_relaxed), r.admin ? 1 : 0);
}

}  // namespace tollgate
