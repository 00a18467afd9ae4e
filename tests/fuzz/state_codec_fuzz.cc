// Fuzzes the state codec (persist/state_codec.h): the payloads of journal
// and snapshot records. Input: u8 record type (RecordType, taken modulo the
// known types), then the payload. Properties:
//   - decoding never reads out of bounds, and refuses with a message;
//   - what decodes round-trips: encode(decode(x)) decodes again, to a value
//     that encodes to the same bytes (decode(encode(v)) == v);
//   - a counters payload's limit views lie inside the payload, count × 8 bytes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.h"
#include "persist/state_codec.h"

namespace tollgate::fuzz {
namespace {

using namespace persist;

// Checks the round trip of one decode/encode pair.
template <typename Decode, typename Encode>
void round_trip(std::string_view payload, Decode decode, Encode encode, const char* what) {
  auto first = decode(payload);
  if (!first) {
    FUZZ_CHECK(!first.error().empty(), std::string(what) + ": refused without a message");
    return;
  }
  const std::string encoded = encode(*first);
  auto second = decode(encoded);
  FUZZ_CHECK(second.has_value(), std::string(what) + ": its own encoding does not decode: " +
                                     (second ? std::string() : second.error()));
  FUZZ_CHECK(encode(*second) == encoded, std::string(what) + ": decode(encode(v)) != v");
}

void counters(std::string_view payload) {
  size_t keys = 0;
  auto decoded = decode_counters(payload, [&](std::string_view key, std::span<const SavedLimit> limits) {
    ++keys;
    FUZZ_CHECK(key.data() >= payload.data() && key.data() + key.size() <= payload.data() + payload.size(),
               "a counters key lies outside the payload");
    for (const SavedLimit& limit : limits) {
      FUZZ_CHECK(limit.words.size() == limit.count * 8, "a limit's words are not count x 8 bytes");
      FUZZ_CHECK(limit.words.empty() || (limit.words.data() >= payload.data() &&
                                         limit.words.data() + limit.words.size() <= payload.data() + payload.size()),
                 "a limit's words lie outside the payload");
      for (size_t i = 0; i < limit.count; ++i) (void)limit.word(i);
    }
  });
  if (decoded) FUZZ_CHECK(*decoded == keys, "decode_counters counted another number of keys");
}

void run(std::string_view input) {
  if (input.empty()) return;
  const uint8_t selector = static_cast<uint8_t>(input[0]);
  const std::string_view payload = input.substr(1);
  switch (selector % 10) {
    case 0:
      round_trip(payload, decode_admin, encode_admin, "admin");
      break;
    case 1:
      round_trip(payload, decode_cancel, encode_cancel, "cancel");
      break;
    case 2:
      round_trip(payload, decode_ledger_entries,
                 [](const std::vector<LedgerEntry>& v) { return encode_ledger_entries(v); }, "ledger");
      break;
    case 3:
      round_trip(payload, decode_payments, [](const std::vector<PaymentImage>& v) { return encode_payments(v); },
                 "payments");
      break;
    case 4:
      round_trip(payload, decode_contract, encode_contract, "contract");
      break;
    case 5:
      round_trip(payload, decode_holds, encode_holds, "holds");
      break;
    case 6:
      round_trip(payload, decode_id_records,
                 [](const std::vector<DedupTable::Record>& v) { return encode_id_records(v); }, "id records");
      break;
    case 7:
      round_trip(payload, decode_subjects, encode_subjects, "subjects");
      break;
    case 8:
      round_trip(payload, decode_subject_estimate, encode_subject_estimate, "subject estimate");
      break;
    case 9:
      counters(payload);
      break;
  }
}

}  // namespace
}  // namespace tollgate::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tollgate::fuzz::run(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
