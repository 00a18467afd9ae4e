// A plain-text table for the CLI's human output: columns padded to the widest
// cell in terminal columns (CJK characters count two), two spaces apart, no
// trailing blanks.
// Value type; not thread-safe.
#pragma once

#include <string>
#include <vector>

namespace tollgate::cli {

class Table {
 public:
  enum class Align { kLeft, kRight };

  // An empty `headers` prints no header line (e.g. a field/value listing).
  explicit Table(std::vector<std::string> headers, std::vector<Align> align = {});

  // Rows shorter than the header are padded with empty cells.
  void add_row(std::vector<std::string> cells);
  bool empty() const { return rows_.empty(); }

  // The table, each line ending in '\n'.
  std::string render() const;

 private:
  std::vector<std::string> headers_;
  std::vector<Align> align_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace tollgate::cli
