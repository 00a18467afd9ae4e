#include "config/yaml_documents.h"

#include <yaml-cpp/eventhandler.h>

#include <sstream>
#include <string>
#include <vector>

namespace tollgate {
namespace {

// Records where each document starts and where its first non-null node is.
class DocumentMarks final : public YAML::EventHandler {
 public:
  struct Document {
    YAML::Mark start;
    std::optional<YAML::Mark> content;
  };
  std::vector<Document> documents;

  void OnDocumentStart(const YAML::Mark& mark) override { documents.push_back({mark, std::nullopt}); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { content(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t, const std::string&) override {
    content(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    content(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    content(mark);
  }
  void OnMapEnd() override {}

 private:
  void content(const YAML::Mark& mark) {
    if (!documents.empty() && !documents.back().content) documents.back().content = mark;
  }
};

}  // namespace

YamlDocuments load_yaml_documents(std::string_view text) {
  const std::string owned(text);
  std::istringstream stream(owned);
  YAML::Parser parser(stream);
  DocumentMarks marks;
  while (marks.documents.size() < 2 && parser.HandleNextDocument(marks)) {
    const auto& docs = marks.documents;
    if (docs.size() == 2 && docs[1].start.pos == docs[0].start.pos)
      throw YAML::ParserException(docs[1].start, "unexpected character");
  }
  YamlDocuments out;
  out.first = YAML::Load(owned);
  if (marks.documents.size() == 2) {
    const auto& second = marks.documents[1];
    out.second_line = second.content.value_or(second.start).line + 1;
  }
  return out;
}

}  // namespace tollgate
