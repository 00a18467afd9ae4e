// Error values of the store's file layer: an errno plus a message naming the
// file and the operation. Plain value type; thread-compatible.
#pragma once

#include <cerrno>
#include <expected>
#include <string>

namespace tollgate::files {

// How an error counts in StoreStatus and how callers may react to it.
enum class StoreErrorKind {
  kNoSpace,    // ENOSPC / EDQUOT: retry after space is freed
  kIo,         // EIO: the device failed; data since the last sync is suspect
  kReadOnly,   // EROFS / EACCES / EPERM: the store cannot be written at all
  kOther,      // any other errno
  kCorrupt,    // bytes on disk failed validation (errno is 0)
};

struct StoreError {
  int error_number = 0;  // errno, 0 for kCorrupt
  std::string message;   // "<op> <file>: <strerror>"

  StoreErrorKind kind() const {
    switch (error_number) {
      case 0: return StoreErrorKind::kCorrupt;
      case ENOSPC:
      case EDQUOT: return StoreErrorKind::kNoSpace;
      case EIO: return StoreErrorKind::kIo;
      case EROFS:
      case EACCES:
      case EPERM: return StoreErrorKind::kReadOnly;
      default: return StoreErrorKind::kOther;
    }
  }
};

template <typename T>
using Result = std::expected<T, StoreError>;

// Builds "<op> <path>: <strerror(error_number)>".
StoreError make_error(int error_number, std::string_view op, std::string_view path);

}  // namespace tollgate::files
