#include <algorithm>
#include <charconv>
#include <utility>

#include "data_detail.hpp"
#include "tapegrad/autograd/npz.hpp"
#include "tapegrad/data/text.hpp"

namespace tapegrad::data {

namespace {

constexpr SpecialRole all_roles[] = {SpecialRole::pad, SpecialRole::unk, SpecialRole::sos,
                                     SpecialRole::eos};
constexpr std::string_view default_spelling[] = {"<pad>", "<unk>", "<sos>", "<eos>"};
// The first field of a vocabulary file's header line, and the version save writes.
constexpr std::string_view header_tag = "#tapegrad-vocab";
constexpr Index header_version = 1;

std::size_t slot(SpecialRole role) {
  return static_cast<std::size_t>(role);
}

// "'<pad>', '<unk>'" (or "none"), for messages.
std::string listed(const std::vector<std::string>& tokens) {
  if (tokens.empty()) return "none";
  std::string out;
  for (const std::string& t : tokens) {
    if (!out.empty()) out += ", ";
    out += "'" + detail::printable(t) + "'";
  }
  return out;
}

// The default specials, "<pad>" and "<unk>", made once.
const Specials& default_specials() {
  static const Specials specials;
  return specials;
}

// The header line of a file in the format with specials, parsed: "#tapegrad-vocab version=1
// specials=N" and then pad=, unk=, sos=, eos= ids, fields separated by single spaces.
struct Header {
  std::size_t specials = 0;
  std::array<Index, 4> ids{-1, -1, -1, -1};  // per role, -1 for none
};

Header parse_header(const std::string& path, const std::string& line, std::size_t num_tokens) {
  const auto fail = [&](const std::string& why) {
    return value_error(fmt::format(
        "Vocabulary::load: '{}' line 1: {} (the header is '{} version=1 specials=N', then the id "
        "of each role a special has: pad=, unk=, sos=, eos=)",
        path, why, header_tag));
  };
  constexpr std::size_t absent = static_cast<std::size_t>(-1);
  std::size_t version = absent, specials = absent;
  std::array<std::size_t, 4> role_ids{absent, absent, absent, absent};
  std::size_t at = header_tag.size();
  while (at < line.size()) {
    if (line[at] != ' ' || at + 1 == line.size() || line[at + 1] == ' ') {
      throw fail("fields are separated by one space each");
    }
    const std::size_t end = std::min(line.find(' ', at + 1), line.size());
    const std::string field = line.substr(at + 1, end - at - 1);
    at = end;
    const std::size_t eq = field.find('=');
    if (eq == std::string::npos) {
      throw fail(fmt::format("field '{}' is not key=value", detail::printable(field)));
    }
    const std::string key = field.substr(0, eq), text = field.substr(eq + 1);
    std::size_t* target = nullptr;
    if (key == "version") {
      target = &version;
    } else if (key == "specials") {
      target = &specials;
    } else {
      for (SpecialRole role : all_roles) {
        if (key == role_name(role)) target = &role_ids[slot(role)];
      }
    }
    if (target == nullptr) throw fail(fmt::format("unknown field '{}'", detail::printable(key)));
    if (*target != absent) throw fail(fmt::format("{} is given twice", key));
    if (version == absent && key != "version") throw fail("the first field must be version=1");
    std::size_t value = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || value == absent) {
      throw fail(fmt::format("{}={} is not a non-negative integer", key, detail::printable(text)));
    }
    *target = value;
  }
  if (version == absent) throw fail("the first field must be version=1");
  if (version != static_cast<std::size_t>(header_version)) {
    throw fail(
        fmt::format("version {} is not one this tapegrad reads ({})", version, header_version));
  }
  if (specials == absent) throw fail("specials= is missing");
  if (specials > num_tokens) {
    throw fail(fmt::format("specials={} but the file has {} token(s)", specials, num_tokens));
  }
  Header header;
  header.specials = specials;
  for (SpecialRole role : all_roles) {
    const std::size_t id = role_ids[slot(role)];
    if (id == absent) continue;
    if (id >= specials) {
      throw fail(fmt::format("{}={} is not the id of a special token (specials={})",
                             role_name(role), id, specials));
    }
    for (SpecialRole other : all_roles) {
      if (other < role && role_ids[slot(other)] == id) {
        throw fail(
            fmt::format("{} and {} are the same token {}", role_name(other), role_name(role), id));
      }
    }
    header.ids[slot(role)] = static_cast<Index>(id);
  }
  return header;
}

}  // namespace

const char* role_name(SpecialRole role) {
  switch (role) {
    case SpecialRole::pad:
      return "pad";
    case SpecialRole::unk:
      return "unk";
    case SpecialRole::sos:
      return "sos";
    case SpecialRole::eos:
      return "eos";
  }
  return "?";
}

// ---- Specials ----

Specials::Specials() : Specials(std::vector<std::string>{"<pad>", "<unk>"}) {}

Specials::Specials(std::vector<std::string> tokens) : tokens_(std::move(tokens)) {
  for (std::size_t i = 0; i < tokens_.size(); ++i) {
    detail::check_list_entry("Specials", "token", i, tokens_[i]);
    for (std::size_t j = 0; j < i; ++j) {
      if (tokens_[j] == tokens_[i]) {
        throw value_error(fmt::format("Specials: token {} '{}' is a duplicate of token {}", i,
                                      detail::printable(tokens_[i]), j));
      }
    }
    for (SpecialRole role : all_roles) {
      if (tokens_[i] == default_spelling[slot(role)]) ids_[slot(role)] = static_cast<Index>(i);
    }
  }
}

Specials::Specials(std::vector<std::string> tokens, const std::array<Index, num_roles>& ids)
    : Specials(std::move(tokens)) {
  ids_ = ids;
}

Specials Specials::none() {
  return Specials(std::vector<std::string>{});
}

Specials& Specials::set(SpecialRole role, const std::string& token) {
  const auto it = std::find(tokens_.begin(), tokens_.end(), token);
  if (it == tokens_.end()) {
    throw value_error(
        fmt::format("Specials::set: '{}' is not one of the specials ({}), so it "
                    "cannot have the role {}",
                    detail::printable(token), listed(tokens_), role_name(role)));
  }
  const auto id = static_cast<Index>(it - tokens_.begin());
  for (SpecialRole other : all_roles) {
    if (other != role && ids_[slot(other)] == id) {
      throw value_error(
          fmt::format("Specials::set: '{}' already has the role {}, so it cannot "
                      "have the role {} too",
                      detail::printable(token), role_name(other), role_name(role)));
    }
  }
  ids_[slot(role)] = id;
  return *this;
}

Index Specials::id(SpecialRole role) const {
  const Index id = ids_[slot(role)];
  if (id < 0) {
    throw value_error(
        fmt::format("Specials: no token has the role {} (the specials: {}); give the vocabulary "
                    "one, e.g. Specials{{\"<pad>\", \"<unk>\", \"<sos>\", \"<eos>\"}}",
                    role_name(role), listed(tokens_)));
  }
  return id;
}

// ---- Vocabulary ----

Vocabulary::Vocabulary() : Vocabulary(default_specials().tokens()) {}

Vocabulary::Vocabulary(std::vector<std::string> tokens, Specials specials)
    : tokens_(std::move(tokens)), specials_(std::move(specials)) {
  const std::vector<std::string>& expected = specials_.tokens();
  if (tokens_.size() < expected.size() ||
      !std::equal(expected.begin(), expected.end(), tokens_.begin())) {
    const std::vector<std::string> first(
        tokens_.begin(),
        tokens_.begin() + static_cast<std::ptrdiff_t>(std::min(tokens_.size(), expected.size())));
    throw value_error(fmt::format(
        "Vocabulary: the first {} tokens must be the specials {}, in this order; they are {}",
        expected.size(), listed(expected), listed(first)));
  }
  ids_.reserve(tokens_.size());
  for (std::size_t i = 0; i < tokens_.size(); ++i) {
    detail::check_list_entry("Vocabulary", "token", i, tokens_[i]);
    if (!ids_.emplace(tokens_[i], static_cast<Index>(i)).second) {
      throw value_error(fmt::format("Vocabulary: token {} '{}' is a duplicate of token {}", i,
                                    detail::printable(tokens_[i]), ids_.at(tokens_[i])));
    }
  }
}

Vocabulary Vocabulary::build(const std::vector<std::vector<std::string>>& token_lists,
                             std::size_t min_frequency, std::size_t max_size) {
  return build(token_lists, default_specials(), min_frequency, max_size);
}

Vocabulary Vocabulary::build(const std::vector<std::vector<std::string>>& token_lists,
                             const Specials& specials, std::size_t min_frequency,
                             std::size_t max_size) {
  const std::size_t num_specials = specials.size();
  if (max_size != 0 && max_size < num_specials) {
    throw value_error(fmt::format(
        "Vocabulary::build: max_size {} leaves no room for the {} specials {} (0 means no limit)",
        max_size, num_specials, listed(specials.tokens())));
  }
  std::unordered_map<std::string, std::size_t> counts;
  for (std::size_t l = 0; l < token_lists.size(); ++l) {
    for (std::size_t t = 0; t < token_lists[l].size(); ++t) {
      const std::string& token = token_lists[l][t];
      if (token.empty() || token.find_first_of("\r\n") != std::string::npos) {
        throw value_error(fmt::format(
            "Vocabulary::build: token {} of list {} is {}", t, l,
            token.empty() ? std::string("empty")
                          : fmt::format("'{}', with a line break", detail::printable(token))));
      }
      ++counts[token];
    }
  }
  for (const std::string& special : specials.tokens()) counts.erase(special);
  std::vector<std::pair<std::string, std::size_t>> kept;
  for (auto& [token, count] : counts) {
    if (count >= std::max<std::size_t>(min_frequency, 1)) kept.emplace_back(token, count);
  }
  std::sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  if (max_size != 0 && kept.size() > max_size - num_specials) kept.resize(max_size - num_specials);
  std::vector<std::string> tokens = specials.tokens();
  tokens.reserve(kept.size() + num_specials);
  for (auto& entry : kept) tokens.push_back(std::move(entry.first));
  return Vocabulary(std::move(tokens), specials);
}

void Vocabulary::save(const std::string& path) const {
  std::string text;
  if (specials_ != default_specials()) {
    // The header: the number of specials and the id of each role that a token has.
    text = fmt::format("{} version={} specials={}", header_tag, header_version, specials_.size());
    for (SpecialRole role : all_roles) {
      if (specials_.has(role)) text += fmt::format(" {}={}", role_name(role), specials_.id(role));
    }
    text += '\n';
  }
  for (const std::string& token : tokens_) {
    text += token;
    text += '\n';
  }
  write_file_atomic(path, text);
}

Vocabulary Vocabulary::load(const std::string& path) {
  std::vector<std::string> lines = detail::read_list_file("Vocabulary::load", path, "token");
  if (lines[0].compare(0, header_tag.size(), header_tag) == 0) {
    const Header header = parse_header(path, lines[0], lines.size() - 1);
    lines.erase(lines.begin());
    const auto specials_end = lines.begin() + static_cast<std::ptrdiff_t>(header.specials);
    Specials specials(std::vector<std::string>(lines.begin(), specials_end), header.ids);
    return Vocabulary(std::move(lines), std::move(specials));
  }
  // No header: the format of every earlier version, "<pad>" and "<unk>" first.
  const std::vector<std::string>& expected = default_specials().tokens();
  for (std::size_t i = 0; i < expected.size(); ++i) {
    if (lines.size() <= i || lines[i] != expected[i]) {
      throw value_error(fmt::format(
          "Vocabulary::load: '{}' line {}: expected '{}', got {} (a file without a '{}' header "
          "starts with the specials '<pad>' and '<unk>')",
          path, i + 1, expected[i],
          lines.size() <= i ? std::string("the end of the file")
                            : fmt::format("'{}'", detail::printable(lines[i])),
          header_tag));
    }
  }
  return Vocabulary(std::move(lines));
}

bool Vocabulary::contains(std::string_view token) const {
  return ids_.count(std::string(token)) != 0;
}

Index Vocabulary::id(std::string_view token) const {
  const auto it = ids_.find(std::string(token));
  if (it != ids_.end()) return it->second;
  if (!specials_.has(SpecialRole::unk)) {
    throw value_error(fmt::format(
        "Vocabulary::id: '{}' is not in the vocabulary, which has no unk token to stand for it",
        detail::printable(std::string(token))));
  }
  return specials_.id(SpecialRole::unk);
}

const std::string& Vocabulary::token(Index id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= tokens_.size()) {
    throw value_error(
        fmt::format("Vocabulary::token: id {} is outside [0, {})", id, tokens_.size()));
  }
  return tokens_[static_cast<std::size_t>(id)];
}

bool Vocabulary::is_special(Index id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= tokens_.size()) {
    throw value_error(
        fmt::format("Vocabulary::is_special: id {} is outside [0, {})", id, tokens_.size()));
  }
  return static_cast<std::size_t>(id) < specials_.size();
}

namespace {

// The id of `role` in `specials`, or a value_error naming `op` (and what asked for it).
Index role_id(const Specials& specials, SpecialRole role, const char* op, const char* asked_by) {
  if (!specials.has(role)) {
    throw value_error(
        fmt::format("{}: {}the vocabulary has no {} token (its specials: {}); build it with "
                    "Specials{{\"<pad>\", "
                    "\"<unk>\", \"<sos>\", \"<eos>\"}} or set() the role",
                    op, asked_by, role_name(role), listed(specials.tokens())));
  }
  return specials.id(role);
}

}  // namespace

Index Vocabulary::pad_id() const {
  return role_id(specials_, SpecialRole::pad, "Vocabulary::pad_id", "");
}
Index Vocabulary::unk_id() const {
  return role_id(specials_, SpecialRole::unk, "Vocabulary::unk_id", "");
}
Index Vocabulary::sos_id() const {
  return role_id(specials_, SpecialRole::sos, "Vocabulary::sos_id", "");
}
Index Vocabulary::eos_id() const {
  return role_id(specials_, SpecialRole::eos, "Vocabulary::eos_id", "");
}

std::vector<Index> Vocabulary::encode(const std::vector<std::string>& tokens,
                                      const EncodeOptions& options) const {
  const char* op = "Vocabulary::encode";
  const Index sos = options.add_sos ? role_id(specials_, SpecialRole::sos, op, "add_sos: ") : -1;
  const Index eos = options.add_eos ? role_id(specials_, SpecialRole::eos, op, "add_eos: ") : -1;
  const Index unk = specials_.has(SpecialRole::unk) ? specials_.id(SpecialRole::unk) : -1;
  std::vector<Index> ids;
  ids.reserve(tokens.size() + 2);
  if (options.add_sos) ids.push_back(sos);
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const auto it = ids_.find(tokens[i]);
    if (it == ids_.end() && unk < 0) {
      throw value_error(fmt::format(
          "{}: token {} '{}' is not in the vocabulary, which has no unk token to stand for it", op,
          i, detail::printable(tokens[i])));
    }
    ids.push_back(it == ids_.end() ? unk : it->second);
  }
  if (options.add_eos) ids.push_back(eos);
  return ids;
}

std::vector<std::vector<Index>> Vocabulary::encode_all(
    const std::vector<std::vector<std::string>>& token_lists, const EncodeOptions& options) const {
  std::vector<std::vector<Index>> out;
  out.reserve(token_lists.size());
  for (const auto& tokens : token_lists) out.push_back(encode(tokens, options));
  return out;
}

void Vocabulary::throw_not_one_dimension(const Shape& shape) {
  throw value_error(fmt::format("Vocabulary::decode: ids of shape {} (expected one dimension)",
                                shape_str(shape)));
}

std::vector<std::string> Vocabulary::decode(const std::vector<Index>& ids,
                                            const DecodeOptions& options) const {
  const char* op = "Vocabulary::decode";
  const Index pad =
      options.skip_padding ? role_id(specials_, SpecialRole::pad, op, "skip_padding: ") : -1;
  const Index sos = options.skip_sos ? role_id(specials_, SpecialRole::sos, op, "skip_sos: ") : -1;
  const Index eos =
      options.stop_at_eos ? role_id(specials_, SpecialRole::eos, op, "stop_at_eos: ") : -1;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || static_cast<std::size_t>(ids[i]) >= tokens_.size()) {
      throw value_error(fmt::format("{}: id {} at position {} is outside [0, {})", op, ids[i], i,
                                    tokens_.size()));
    }
  }
  std::vector<std::string> out;
  out.reserve(ids.size());
  for (const Index id : ids) {
    if (id == eos) break;
    if (id == pad || id == sos) continue;
    out.push_back(tokens_[static_cast<std::size_t>(id)]);
  }
  return out;
}

}  // namespace tapegrad::data
