// Bad files: every file tapegrad and its examples read -- .npz archives, model files,
// training checkpoints, the sentiment and char_lm model pairs, labelled TSV/CSV files, list
// files, series CSVs and the UCI JSON -- given empty, truncated, corrupted, in another format,
// with the wrong shapes or contents, missing, or as a folder: each is a value_error naming the
// file and what is wrong, and changes nothing (not the model, not the optimizer, not a byte on
// disk). A save that fails leaves the file at its target as it was.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "char_lm.hpp"
#include "forecast.hpp"
#include "helpers.hpp"
#include "sentiment.hpp"
#include "tapegrad/data.hpp"
#include "tapegrad/nn.hpp"
#include "tapegrad/optim.hpp"

namespace {

namespace fs = std::filesystem;
namespace nn = tapegrad::nn;
namespace optim = tapegrad::optim;
namespace data = tapegrad::data;
using tapegrad::Array;
using tapegrad::IndexArray;
using tapegrad::Npz;
using tapegrad::value_error;
using tapegrad::Var;
using tapegrad_test::message_of;
using tapegrad_test::read_bytes;
using tapegrad_test::TempDir;
using tapegrad_test::write_bytes;

// ---- bad file contents ----

/// The first bytes of a PNG image: binary, with NUL bytes and line breaks.
const char png_raw[] =
    "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\nIDATx"
    "\x9c";
const std::string png_bytes(png_raw, sizeof png_raw - 1);

/// A case: the file's bytes (or a missing file, or a folder at the path) and a part of the
/// message it must give, besides the path.
struct BadFile {
  enum Kind { bytes, missing, folder };
  std::string name;
  Kind kind;
  std::string content;
  std::string expected;
};

BadFile with_bytes(std::string name, std::string content, std::string expected) {
  return {std::move(name), BadFile::bytes, std::move(content), std::move(expected)};
}

/// The cases every loader must refuse: no file, a folder, an empty file, a PNG image.
std::vector<BadFile> common_cases(const std::string& missing_says, const std::string& folder_says,
                                  const std::string& empty_says, const std::string& png_says) {
  return {{"missing file", BadFile::missing, "", missing_says},
          {"folder", BadFile::folder, "", folder_says},
          with_bytes("empty file", "", empty_says),
          with_bytes("PNG image", png_bytes, png_says)};
}

/// Every regular file under `root` with its bytes.
std::map<std::string, std::string> snapshot(const fs::path& root) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (entry.is_regular_file()) files[entry.path().string()] = read_bytes(entry.path().string());
  }
  return files;
}

/// Puts each case at `path` in turn, runs `load(path)`, and checks: a value_error naming the
/// path and the case's reason, `unchanged()` true, and every file of the folder as it was.
void check_refused(
    const TempDir& dir, const std::string& path, const std::vector<BadFile>& cases,
    const std::function<void(const std::string&)>& load,
    const std::function<bool()>& unchanged = [] { return true; }) {
  for (const BadFile& c : cases) {
    CAPTURE(c.name);
    std::error_code ignored;
    fs::remove_all(path, ignored);
    if (c.kind == BadFile::bytes) write_bytes(path, c.content);
    if (c.kind == BadFile::folder) fs::create_directories(fs::path(path) / "inside");
    const auto before = snapshot(dir.path);
    const std::string message = message_of<value_error>([&] { load(path); });
    TG_CHECK_CONTAINS(message, path);
    TG_CHECK_CONTAINS(message, c.expected);
    CHECK(unchanged());
    CHECK(snapshot(dir.path) == before);
  }
  std::error_code ignored;
  fs::remove_all(path, ignored);
}

// ---- .npz surgery ----

std::uint32_t crc32_of(const std::string& bytes) {
  std::uint32_t crc = 0xffffffffu;
  for (const char ch : bytes) {
    crc ^= static_cast<unsigned char>(ch);
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

std::uint32_t read_u32(const std::string& b, std::size_t at) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i)
    v |= static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + i])) << (8 * i);
  return v;
}

void write_u32(std::string& b, std::size_t at, std::uint32_t v) {
  for (std::size_t i = 0; i < 4; ++i) b[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

/// A one-entry archive as Npz::save writes it (stored, no extra fields) with the .npy header of
/// its entry replaced by `header` (padded with spaces to the old length) and the CRCs fixed:
/// only the .npy header is wrong.
std::string with_npy_header(const std::string& archive, const std::string& header) {
  std::string b = archive;
  const std::size_t name_len =
      static_cast<unsigned char>(b[26]) | (static_cast<unsigned char>(b[27]) << 8);
  const std::size_t data = 30 + name_len;
  const std::size_t size = read_u32(b, 18);
  const std::size_t start = data + 10, end = b.find('\n', start);
  REQUIRE(header.size() <= end - start);
  b.replace(start, end - start, header + std::string(end - start - header.size(), ' '));
  const std::uint32_t crc = crc32_of(b.substr(data, size));
  write_u32(b, 14, crc);
  const std::size_t central = read_u32(b, b.size() - 22 + 16);
  write_u32(b, central + 16, crc);
  return b;
}

/// `bytes` with the byte at `at` inverted.
std::string flipped(std::string bytes, std::size_t at) {
  bytes[at] = static_cast<char>(~bytes[at]);
  return bytes;
}

/// The cases of a bad .npz file, made from a valid one: empty, cut, flipped, another format,
/// missing, a folder.
std::vector<BadFile> npz_cases(const std::string& valid) {
  REQUIRE(valid.size() > 200);
  std::vector<BadFile> cases =
      common_cases("cannot open", "is a folder", "is empty", "not a zip archive");
  const std::size_t central = read_u32(valid, valid.size() - 22 + 16);
  const std::vector<BadFile> more = {
      with_bytes("only the first local header", valid.substr(0, 40), "truncated"),
      with_bytes("cut in half", valid.substr(0, valid.size() / 2), "truncated"),
      with_bytes("last byte missing", valid.substr(0, valid.size() - 1), "truncated"),
      with_bytes("central directory cut", valid.substr(0, central + 10), "truncated"),
      with_bytes("byte flipped in the data", flipped(valid, central - 1), "CRC mismatch"),
      with_bytes("local header signature flipped", flipped(valid, 1), "corrupt zip archive"),
      with_bytes("central directory signature flipped", flipped(valid, central),
                 "corrupt zip archive"),
      with_bytes("a JSON file", "{\"format\": \"tapegrad-sentiment\", \"version\": 1}\n",
                 "not a zip archive"),
      with_bytes("a TSV file", "text\tlabel\ngood film\tpos\nbad film\tneg\n", "not a zip archive"),
  };
  cases.insert(cases.end(), more.begin(), more.end());
  return cases;
}

// ---- a model, an optimizer and a schedule, with their state ----

class Tagger : public nn::Module<float> {
 public:
  explicit Tagger(tapegrad::Generator& gen)
      : embed_(10, 4, 0, gen), rnn_(nn::RNNOptions(4, 5), gen), head_(5, 2, true, gen) {
    register_module("embed", embed_);
    register_module("rnn", rnn_);
    register_module("head", head_);
  }
  Var<float> forward(const IndexArray& ids) const {
    return head_(tapegrad::select(rnn_(embed_(ids)).h_n, 0, 0));
  }

 private:
  nn::Embedding<float> embed_;
  nn::GRU<float> rnn_;
  nn::Linear<float> head_;
};

struct Training {
  tapegrad::Generator init{11}, shuffle{12};
  Tagger model{init};
  optim::Adam<float> adam{model.parameters(), optim::AdamOptions{0.01}};
  optim::StepLR<float> schedule{adam, 2, 0.5};
  std::int64_t epoch = 0;
  std::map<std::string, double> values;

  /// `steps` Adam steps on a fixed batch, the schedule and the shuffle generator moved on.
  void train(int steps) {
    const IndexArray ids = {{1, 2, 3}, {4, 5, 6}, {7, 8, 9}};
    for (int s = 0; s < steps; ++s) {
      adam.zero_grad();
      tapegrad::cross_entropy(model.forward(ids), IndexArray{0, 1, 1}).backward();
      adam.step();
      schedule.step();
      shuffle.engine()();
    }
  }
  optim::TrainingState<float> state() {
    optim::TrainingState<float> s;
    s.model = &model;
    s.optimizer = &adam;
    s.schedule = &schedule;
    s.generators = {{"shuffle", &shuffle}};
    s.epoch = epoch;
    s.values = values;
    return s;
  }
};

template <class T>
std::string bits(const Array<T>& a) {
  return tapegrad::shape_str(a.shape()) +
         std::string(reinterpret_cast<const char*>(a.data()), a.size() * sizeof(T));
}

template <class Named>
std::string bits_of(const Named& entries) {
  std::string out;
  for (const auto& [name, value] : entries) out += name + "=" + bits(value) + ";";
  return out;
}

/// Everything a failed load must leave as it was, bit for bit.
std::string fingerprint(Training& t, const optim::TrainingState<float>& s) {
  std::ostringstream out;
  out << bits_of(t.model.state_dict()) << "|" << bits_of(t.adam.state_dict()) << "|";
  for (const auto& g : t.adam.param_groups()) out << g.lr << ",";
  out << "|" << bits_of(t.schedule.state_dict()) << "|" << t.shuffle.engine() << "|" << s.epoch;
  for (const auto& [name, value] : s.values) out << "|" << name << "=" << value;
  return out.str();
}

/// `npz` without the entry `name`.
Npz without(const Npz& npz, const std::string& name) {
  Npz out;
  for (const auto& n : npz.names()) {
    if (n == name) continue;
    const std::string dtype = npz.dtype(n);
    if (dtype == "float32") out.put(n, npz.get<float>(n));
    if (dtype == "float64") out.put(n, npz.get<double>(n));
    if (dtype == "int64") out.put(n, npz.get_index(n));
  }
  return out;
}

Array<double> scalar(double v) {
  Array<double> a = Array<double>::from_shape({});
  a() = v;
  return a;
}

}  // namespace

// ---- .npz archives ----

TEST_CASE("bad files: Npz::load refuses empty, cut, flipped, foreign, missing and folder paths") {
  TempDir dir;
  Npz npz;
  npz.put("weight", Array<float>{{0.5f, -1.25f, 3.0f}, {4.0f, 5.5f, -6.0f}});
  npz.put("bias", Array<double>{1.0, 2.0, -3.5});
  npz.put("ids", IndexArray{3, 1, 2});
  npz.save(dir.file("good.npz"));
  const std::string valid = read_bytes(dir.file("good.npz"));
  check_refused(dir, dir.file("bad.npz"), npz_cases(valid),
                [](const std::string& path) { Npz::load(path); });
  CHECK(read_bytes(dir.file("good.npz")) == valid);
}

TEST_CASE("bad files: an .npy entry with a bad header is refused by name") {
  TempDir dir;
  Npz npz;
  npz.put("weight", Array<float>{{0.5f, -1.25f, 3.0f}, {4.0f, 5.5f, -6.0f}});
  npz.save(dir.file("good.npz"));
  const std::string valid = read_bytes(dir.file("good.npz"));
  // The surgery itself is sound: the same header loads.
  write_bytes(
      dir.file("same.npz"),
      with_npy_header(valid, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"));
  CHECK(Npz::load(dir.file("same.npz")).get<float>("weight") == npz.get<float>("weight"));

  const auto header = [&](const std::string& name, const std::string& text,
                          const std::string& expected) {
    return with_bytes(name, with_npy_header(valid, text), expected);
  };
  const std::vector<BadFile> cases = {
      header("shape of another size", "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 3), }",
             "entry 'weight': shape [3,3] of <f4 needs 36 bytes of data, the entry has 24"),
      header("shape too large for 64 bits",
             "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999, 3), }",
             "entry 'weight': "),
      header("shape overflowing when multiplied",
             "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 16), }",
             "entry 'weight': shape too large"),
      header("dtype size too large for 64 bits",
             "{'descr': '<f99999999999999999999', 'fortran_order': False, 'shape': (2, 3), }",
             "entry 'weight': "),
      header("big-endian", "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }",
             "big-endian"),
      header("complex numbers", "{'descr': '<c4', 'fortran_order': False, 'shape': (2, 3), }",
             "unsupported dtype '<c4'"),
      header("no shape", "{'descr': '<f4', 'fortran_order': False, }", "malformed header"),
      header("shape not closed", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, }",
             "entry 'weight': "),
      header("letters in the shape", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }",
             "malformed shape"),
  };
  check_refused(dir, dir.file("bad.npz"), cases, [](const std::string& path) { Npz::load(path); });
}

// ---- models and training checkpoints ----

TEST_CASE("bad files: load_model refuses bad files and leaves every parameter bit for bit") {
  TempDir dir;
  Training saved, target;
  saved.train(2);
  optim::save_model(saved.model, dir.file("model.npz"));
  const std::string valid = read_bytes(dir.file("model.npz"));
  optim::TrainingState<float> state = target.state();
  const std::string before = fingerprint(target, state);
  const auto unchanged = [&] { return fingerprint(target, state) == before; };
  const auto load = [&](const std::string& path) { optim::load_model(target.model, path); };

  check_refused(dir, dir.file("bad.npz"), npz_cases(valid), load, unchanged);

  const Npz good = Npz::load(dir.file("model.npz"));
  const auto archive = [&](Npz npz) {
    npz.save(dir.file("tmp.npz"));
    const std::string b = read_bytes(dir.file("tmp.npz"));
    fs::remove(dir.file("tmp.npz"));
    return b;
  };
  Npz as_int = good, as_scalar = good, transposed = good;
  as_int.put("head.bias", IndexArray{0, 1});
  as_scalar.put("head.bias", Array<float>::from_shape({}));
  transposed.put("head.weight", Array<float>::from_shape({5, 2}));
  const std::vector<BadFile> contents = {
      with_bytes("an int64 parameter", archive(as_int),
                 "'head.bias' is int64, the model is float32"),
      with_bytes("a scalar parameter", archive(as_scalar),
                 "'head.bias' has shape [], the model expects [2]"),
      with_bytes("a transposed parameter", archive(transposed),
                 "'head.weight' has shape [5,2], the model expects [2,5]"),
      with_bytes("an empty archive", archive(Npz()), "missing embed.weight"),
  };
  check_refused(dir, dir.file("bad.npz"), contents, load, unchanged);
  // The last parameter in the file is the bad one: nothing before it was assigned either.
  CHECK(good.names().back() == "head.bias");
  CHECK(read_bytes(dir.file("model.npz")) == valid);
}

TEST_CASE("bad files: load_checkpoint refuses bad files and changes nothing of the run") {
  TempDir dir;
  Training saved;
  saved.train(3);
  saved.epoch = 3;
  saved.values = {{"best", 0.5}};
  optim::save_checkpoint(dir.file("ckpt.npz"), saved.state());
  const std::string valid = read_bytes(dir.file("ckpt.npz"));

  Training target;
  target.train(1);  // its own Adam state, schedule and generator
  target.epoch = 1;
  target.values = {{"best", 2.0}};
  optim::TrainingState<float> state = target.state();
  const std::string before = fingerprint(target, state);
  const auto unchanged = [&] { return fingerprint(target, state) == before; };
  const auto load = [&](const std::string& path) { optim::load_checkpoint(path, state); };

  check_refused(dir, dir.file("bad.npz"), npz_cases(valid), load, unchanged);

  const Npz good = Npz::load(dir.file("ckpt.npz"));
  const auto archive = [&](const std::function<void(Npz&)>& edit) {
    Npz npz = good;
    edit(npz);
    npz.save(dir.file("tmp.npz"));
    const std::string b = read_bytes(dir.file("tmp.npz"));
    fs::remove(dir.file("tmp.npz"));
    return b;
  };
  const auto dropping = [&](const std::string& name) {
    const Npz npz = without(good, name);
    npz.save(dir.file("tmp.npz"));
    const std::string b = read_bytes(dir.file("tmp.npz"));
    fs::remove(dir.file("tmp.npz"));
    return b;
  };
  const std::vector<BadFile> contents = {
      with_bytes("a model parameter of the wrong shape",
                 archive([](Npz& n) { n.put("model.head.bias", Array<float>::from_shape({3})); }),
                 "'model.head.bias' has shape [3], the model expects [2]"),
      with_bytes("a model parameter missing", dropping("model.rnn.bias_hh_l0"),
                 "missing model.rnn.bias_hh_l0"),
      with_bytes("an unknown model parameter", archive([](Npz& n) {
                   n.put("model.rnn.weight_ih_l1", Array<float>::from_shape({15, 5}));
                 }),
                 "unexpected model.rnn.weight_ih_l1"),
      with_bytes("a model parameter in float64", archive([&](Npz& n) {
                   n.put("model.head.bias", good.get_as<double>("model.head.bias"));
                 }),
                 "'model.head.bias' is float64, the model is float32"),
      with_bytes("an Adam moment of the wrong shape", archive([](Npz& n) {
                   n.put("optimizer.state.0.exp_avg", Array<float>::from_shape({2, 2}));
                 }),
                 "'state.0.exp_avg' has shape [2,2]"),
      with_bytes("an Adam moment in float64", archive([&](Npz& n) {
                   n.put("optimizer.state.0.exp_avg",
                         good.get_as<double>("optimizer.state.0.exp_avg"));
                 }),
                 "'optimizer.state.0.exp_avg' is float64, expected float32"),
      with_bytes("the optimizer's step count empty",
                 archive([](Npz& n) { n.put("optimizer.steps", Array<float>::from_shape({0})); }),
                 "'steps'"),
      with_bytes("a parameter's step count empty", archive([](Npz& n) {
                   n.put("optimizer.state.1.step", Array<float>::from_shape({0}));
                 }),
                 "'state.1.step'"),
      with_bytes("a group's learning rate empty", archive([](Npz& n) {
                   n.put("optimizer.group.0.lr", Array<float>::from_shape({0}));
                 }),
                 "'group.0.lr'"),
      with_bytes("no optimizer state", dropping("optimizer.steps"), "missing 'steps'"),
      with_bytes("the learning rate missing", dropping("lr.0"), "missing 'lr.0'"),
      with_bytes("the learning rate empty",
                 archive([](Npz& n) { n.put("lr.0", Array<double>::from_shape({0})); }), "'lr.0'"),
      with_bytes("the schedule's epoch empty",
                 archive([](Npz& n) { n.put("schedule.epoch", Array<double>::from_shape({0})); }),
                 "'epoch'"),
      with_bytes("the schedule's learning rates for 2 groups", archive([](Npz& n) {
                   n.put("schedule.lrs", Array<double>{0.1, 0.2});
                 }),
                 "'base_lrs' has 1 and 'lrs' 2 learning rates, for 1 groups"),
      with_bytes("the epoch missing", dropping("meta.epoch"), "missing 'meta.epoch'"),
      with_bytes("the epoch empty",
                 archive([](Npz& n) { n.put("meta.epoch", IndexArray::from_shape({0})); }),
                 "'meta.epoch'"),
      with_bytes("the epoch in float64", archive([](Npz& n) { n.put("meta.epoch", scalar(3.0)); }),
                 "'meta.epoch' is float64, expected an integer array"),
      with_bytes("a value with two numbers", archive([](Npz& n) {
                   n.put("value.best", Array<double>{0.5, 0.25});
                 }),
                 "'value.best'"),
      with_bytes("a value in float32",
                 archive([](Npz& n) { n.put("value.best", Array<float>::from_shape({})); }),
                 "'value.best' is float32, expected float64"),
      with_bytes("a generator's state cut", archive([](Npz& n) {
                   n.put("rng.shuffle", IndexArray{49, 50, 32});
                 }),
                 "'rng.shuffle' is corrupt"),
      with_bytes("a generator's state missing", dropping("rng.shuffle"), "missing 'rng.shuffle'"),
  };
  check_refused(dir, dir.file("bad.npz"), contents, load, unchanged);
  CHECK(read_bytes(dir.file("ckpt.npz")) == valid);

  // The surgery is sound: the valid file loads, and changes the run.
  optim::load_checkpoint(dir.file("ckpt.npz"), state);
  CHECK(state.epoch == 3);
  CHECK_FALSE(unchanged());
}

TEST_CASE("bad files: a failed save leaves the file at its target as it was") {
  TempDir dir;
  Training t;
  t.train(1);
  const data::Vocabulary vocab = data::Vocabulary::build({{"a", "b"}});
  const data::LabelSet labels({"neg", "pos"});
  const std::string json = dir.write("in.json", R"([{"text":"good","class":1}])");
  const std::vector<std::pair<std::string, std::function<void(const std::string&)>>> savers = {
      {"Npz::save", [&](const std::string& p) { Npz().save(p); }},
      {"save_model", [&](const std::string& p) { optim::save_model(t.model, p); }},
      {"save_checkpoint", [&](const std::string& p) { optim::save_checkpoint(p, t.state()); }},
      {"Vocabulary::save", [&](const std::string& p) { vocab.save(p); }},
      {"LabelSet::save", [&](const std::string& p) { labels.save(p); }},
      {"import_uci_json", [&](const std::string& p) { sentiment::import_uci_json({json}, p); }},
  };
  for (const auto& [name, save] : savers) {
    CAPTURE(name);
    // The target is a folder holding a file: the rename over it fails.
    fs::create_directories(dir.path / "target");
    const std::string inside = dir.write("target/keep.txt", "keep me\n");
    const auto before = snapshot(dir.path);
    TG_CHECK_CONTAINS(message_of<value_error>([&] { save(dir.file("target")); }),
                      dir.file("target"));
    CHECK(snapshot(dir.path) == before);  // no temporary file left behind either
    // A folder that does not exist: nothing is created.
    TG_CHECK_CONTAINS(message_of<value_error>([&] { save(dir.file("none/x.npz")); }), "none/x.npz");
    CHECK_FALSE(fs::exists(dir.path / "none"));
    CHECK(snapshot(dir.path) == before);
    fs::remove_all(dir.path / "target");
  }
}

// ---- data files ----

TEST_CASE("bad files: read_labelled_text refuses folders, binary files and cut records") {
  TempDir dir;
  const std::string valid = "text\tlabel\ngood film\tpos\nbad film\tneg\n";
  std::vector<BadFile> cases = {
      {"folder", BadFile::folder, "", "is a folder"},
      with_bytes("PNG image", png_bytes, "line 3: a NUL byte"),
      with_bytes("an .npz archive",
                 read_bytes(tapegrad_test::source_dir() + "/tests/fixtures/numpy_stored.npz"),
                 "a NUL byte"),
      with_bytes("cut in the last record", valid.substr(0, valid.size() - 8),
                 "line 3: expected 2 fields, got 1"),
      with_bytes("a tab flipped to a NUL", valid.substr(0, 20) + '\0' + valid.substr(21),
                 "line 2: a NUL byte"),
      with_bytes("only the header", valid.substr(0, 11), "has a header line but no examples"),
  };
  check_refused(dir, dir.file("bad.tsv"), cases,
                [](const std::string& path) { data::read_labelled_text(path); });
  // A numeric label set: a word where a number belongs.
  data::ReadOptions numeric;
  numeric.labels = data::LabelSet({"0", "1"});
  check_refused(dir, dir.file("bad.tsv"),
                {with_bytes("a word label", "text\tlabel\ngood\t1\nbad\tnegative\n",
                            "line 3: unknown label 'negative' (labels: 0, 1)")},
                [&](const std::string& path) { data::read_labelled_text(path, numeric); });
}

TEST_CASE("bad files: Vocabulary and LabelSet files refuse folders and binary files") {
  TempDir dir;
  const std::vector<BadFile> cases = {
      {"folder", BadFile::folder, "", "is a folder"},
      with_bytes("PNG image", png_bytes, "a NUL byte"),
      with_bytes("an .npz archive",
                 read_bytes(tapegrad_test::source_dir() + "/tests/fixtures/numpy_stored.npz"),
                 "a NUL byte"),
      with_bytes("a NUL in a token", std::string("<pad>\n<unk>\nth\0e\n", 17),
                 "line 3: a NUL byte"),
  };
  check_refused(dir, dir.file("list.txt"), cases,
                [](const std::string& path) { data::Vocabulary::load(path); });
  check_refused(dir, dir.file("list.txt"), cases,
                [](const std::string& path) { data::LabelSet::load(path); });
  // What the constructors accept, save writes and load reads back: no NUL bytes.
  CHECK_THROWS_AS(data::LabelSet({"a", std::string("b\0c", 3)}), value_error);
}

TEST_CASE("bad files: the forecast series CSV refuses folders and binary files") {
  TempDir dir;
  const std::vector<BadFile> cases = {
      {"folder", BadFile::folder, "", "is a folder"},
      with_bytes("PNG image", png_bytes, "a NUL byte"),
      with_bytes("a binary line without NUL bytes", "price\n1.5\n\x89\x01\x02\n",
                 "line 3: '\x89\\x01\\x02' is not a finite number"),
      with_bytes("cut inside a number", "1.5\n2.5\n3e", "line 3: '3e' is not a finite number"),
  };
  check_refused(dir, dir.file("series.csv"), cases,
                [](const std::string& path) { forecast::read_series_csv(path); });
}

TEST_CASE("bad files: char_lm's text and saved pair refuse bad files") {
  TempDir dir;
  check_refused(
      dir, dir.file("text.txt"),
      {{"missing file", BadFile::missing, "", "cannot be read"},
       {"folder", BadFile::folder, "", "is a folder"},
       with_bytes("empty file", "", "is empty"),
       with_bytes("PNG image", png_bytes, "is 0x00, a NUL byte"),
       with_bytes("an .npz archive",
                  read_bytes(tapegrad_test::source_dir() + "/tests/fixtures/numpy_stored.npz"),
                  "a NUL byte"),
       with_bytes("Latin-1 text", "caf\xe9 au lait\n", "byte 3 (line 1) is 0xe9, not UTF-8")},
      [](const std::string& path) { char_lm::read_text(path); });

  const char_lm::Corpus corpus = char_lm::make_corpus("the cat sat on the mat. the mat sat.", 0.2);
  char_lm::ModelConfig config;
  config.vocab_size = corpus.vocab.size();
  config.embedding_size = 4;
  config.hidden_size = 6;
  tapegrad::Generator gen(3);
  const char_lm::CharModel model(config, gen);
  const std::string path = dir.file("lm.npz");
  char_lm::save(model, corpus.vocab, path);
  const std::string vocab_path = char_lm::vocab_path_for(path);
  const std::string model_bytes = read_bytes(path), vocab_bytes = read_bytes(vocab_path);
  const auto load = [](const std::string& p) { char_lm::load(p); };

  // The model file bad, the vocabulary good.
  std::filesystem::copy_file(vocab_path, dir.file("bad.vocab.txt"));
  check_refused(dir, dir.file("bad.npz"), npz_cases(model_bytes), load);

  // The model good, the vocabulary bad.
  const std::string lines = vocab_bytes;
  const std::vector<BadFile> vocab_cases = {
      {"missing file", BadFile::missing, "", "cannot open"},
      {"folder", BadFile::folder, "", "is a folder"},
      with_bytes("empty file", "", "is empty"),
      with_bytes("PNG image", png_bytes, "a NUL byte"),
      with_bytes("cut at a line end", lines.substr(0, lines.find('\n', 20) + 1), "not a pair"),
      with_bytes("a token that is no character", "<pad>\n<unk>\nab\n",
                 "line 3: 'ab' is not a character token"),
  };
  check_refused(dir, vocab_path, vocab_cases, [&](const std::string&) { char_lm::load(path); });
  write_bytes(vocab_path, vocab_bytes);
  CHECK_NOTHROW(char_lm::load(path));
}

TEST_CASE("bad files: the sentiment model pair refuses bad files") {
  TempDir dir;
  sentiment::ModelConfig config;
  config.vocab_size = 6;
  config.embedding_dim = 4;
  config.hidden_size = 3;
  config.cell = sentiment::Cell::lstm;
  sentiment::TextEncoder encoder;
  encoder.vocabulary = data::Vocabulary({"<pad>", "<unk>", "good", "bad", "film", "plot"});
  const sentiment::Predictor predictor(std::make_unique<sentiment::Classifier>(config, 1), encoder,
                                       data::LabelSet({"neg", "pos"}));
  const std::string path = dir.file("model.npz");
  predictor.save(path);
  const std::string json_path = dir.file("model.json");
  const std::string model_bytes = read_bytes(path), json_bytes = read_bytes(json_path);
  const auto load = [&](const std::string&) { sentiment::Predictor::load(path); };

  // The weights bad, the .json good.
  check_refused(dir, path, npz_cases(model_bytes), load);
  write_bytes(path, model_bytes);

  // The .json bad, the weights good.
  const auto replaced = [&](const std::string& from, const std::string& to) {
    std::string j = json_bytes;
    const auto at = j.find(from);
    REQUIRE(at != std::string::npos);
    return j.replace(at, from.size(), to);
  };
  std::vector<BadFile> json_cases = common_cases(
      "cannot open", "is a folder", "not a saved sentiment model", "not a saved sentiment model");
  const std::vector<BadFile> more = {
      with_bytes("cut in half", json_bytes.substr(0, json_bytes.size() / 2),
                 "not a saved sentiment model"),
      with_bytes("an .npz given as the .json", model_bytes, "not a saved sentiment model"),
      with_bytes("a JSON array", "[1, 2, 3]\n", "format is not tapegrad-sentiment"),
      with_bytes("a size that is text",
                 replaced("\"hidden_size\": 3", "\"hidden_size\": \"three\""), "hidden_size"),
      with_bytes("an enormous embedding size",
                 replaced("\"embedding_dim\": 4", "\"embedding_dim\": 4000000000000"),
                 "embedding_dim"),
      with_bytes("an enormous vocabulary size",
                 replaced("\"vocab_size\": 6", "\"vocab_size\": 6000000000000"), "vocab_size"),
      with_bytes("three labels for two classes", replaced("\"pos\"", "\"pos\", \"meh\""), "label"),
      with_bytes("another cell", replaced("\"lstm\"", "\"gru\""), "model.npz"),
  };
  json_cases.insert(json_cases.end(), more.begin(), more.end());
  for (const BadFile& c : json_cases) {
    CAPTURE(c.name);
    check_refused(dir, json_path, {c}, load);
  }
  write_bytes(json_path, json_bytes);
  CHECK(sentiment::Predictor::load(path).predict("good film").probabilities.size() == 2);
}

TEST_CASE("bad files: the UCI import refuses bad JSON and leaves its output as it was") {
  TempDir dir;
  const std::string out = dir.write("sentences.tsv", "text\tlabel\tsource\nold\tpositive\tx\n");
  const std::vector<BadFile> cases = [] {
    std::vector<BadFile> c =
        common_cases("cannot open", "is a folder", "not valid JSON", "not valid JSON");
    const std::vector<BadFile> more = {
        with_bytes("cut in half", R"([{"text":"good","class":1},{"te)", "not valid JSON"),
        with_bytes("an object, not an array", R"({"text":"good","class":1})",
                   "expected a JSON array"),
        with_bytes("a class that is text", R"([{"text":"good","class":"1"}])",
                   "record 0 has class \"1\""),
        with_bytes("a class past 32 bits", R"([{"text":"good","class":4294967297}])",
                   "record 0 has class 4294967297"),
        with_bytes("a class that is fractional", R"([{"text":"good","class":1.0}])",
                   "record 0 has class 1.0"),
        with_bytes("a record that is a number", R"([{"text":"good","class":1}, 7])",
                   "record 1 has no \"text\""),
    };
    c.insert(c.end(), more.begin(), more.end());
    return c;
  }();
  check_refused(dir, dir.file("amazon.json"), cases,
                [&](const std::string& path) { sentiment::import_uci_json({path}, out); });
}
