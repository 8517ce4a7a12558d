// libFuzzer harness of tapegrad::data::Vocabulary::load and LabelSet::load: any file is a
// vocabulary (a label set) or a value_error.
//
// The input is the file; both readers read it. What loads must save and load back to the
// same tokens (names) and specials, each token must map to its id, and each special's role
// must name a special token.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include <tapegrad/data.hpp>

#include "fuzz_common.hpp"

namespace {

namespace data = tapegrad::data;

void check(const data::Vocabulary& vocabulary) {
  const data::Specials& specials = vocabulary.specials();
  if (specials.size() > vocabulary.size() ||
      !std::equal(specials.tokens().begin(), specials.tokens().end(),
                  vocabulary.tokens().begin())) {
    fuzz::finding("Vocabulary::load: the special tokens are not the first tokens");
  }
  for (const data::SpecialRole role : {data::SpecialRole::pad, data::SpecialRole::unk,
                                       data::SpecialRole::sos, data::SpecialRole::eos}) {
    if (specials.has(role) && !vocabulary.is_special(specials.id(role))) {
      fuzz::finding(std::string("Vocabulary::load: the ") + data::role_name(role) +
                    " token is not special");
    }
  }
  for (std::size_t i = 0; i < vocabulary.size(); ++i) {
    if (vocabulary.id(vocabulary.tokens()[i]) != static_cast<tapegrad::Index>(i)) {
      fuzz::finding("Vocabulary::load: token " + std::to_string(i) + " does not map to its id");
    }
  }
  const std::string path = fuzz::scratch_dir() + "/round_trip.vocab";
  vocabulary.save(path);
  const data::Vocabulary loaded = data::Vocabulary::load(path);
  if (loaded.tokens() != vocabulary.tokens() || loaded.specials() != specials) {
    fuzz::finding("Vocabulary: save then load changed the tokens or the specials");
  }
}

void check(const data::LabelSet& labels) {
  if (labels.size() == 0) fuzz::finding("LabelSet::load: no labels, but no error either");
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels.id(labels.names()[i]) != static_cast<tapegrad::Index>(i)) {
      fuzz::finding("LabelSet::load: label " + std::to_string(i) + " does not map to its id");
    }
  }
  const std::string path = fuzz::scratch_dir() + "/round_trip.labels";
  labels.save(path);
  if (data::LabelSet::load(path) != labels) {
    fuzz::finding("LabelSet: save then load changed the names");
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  fuzz::set_small_input_limits();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = fuzz::write_input("input.txt", data, size);
  data::Vocabulary vocabulary;
  if (fuzz::read_or_typed_error([&] { vocabulary = data::Vocabulary::load(path); })) {
    check(vocabulary);
  }
  data::LabelSet labels;
  if (fuzz::read_or_typed_error([&] { labels = data::LabelSet::load(path); })) check(labels);
  return 0;
}
