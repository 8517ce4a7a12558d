#include "tapegrad/optim/checkpoint.hpp"

#include <set>
#include <sstream>

#include <fmt/format.h>

#include "tapegrad/autograd/errors.hpp"
#include "tapegrad/autograd/npz.hpp"

namespace tapegrad::optim {

namespace {

template <class T>
const char* dtype_name() {
  return sizeof(T) == 4 ? "float32" : "float64";
}

// The model's entries from an archive (names without `prefix`), checked against the model:
// each present parameter with its shape and dtype; when `strict`, every parameter present and
// nothing else under the prefix. Not strict, the names of entries the model has no parameter
// for go to `unexpected` (with the prefix).
template <class T>
nn::StateDict<T> read_model(const Npz& npz, const nn::Module<T>& model, const std::string& prefix,
                            bool strict = true, std::vector<std::string>* unexpected = nullptr) {
  const auto params = model.named_parameters();
  std::set<std::string> known;
  nn::StateDict<T> out;
  std::vector<std::string> missing;
  for (const auto& [name, var] : params) {
    known.insert(prefix + name);
    if (!npz.contains(prefix + name)) {
      missing.push_back(prefix + name);
      continue;
    }
    const std::string dtype = npz.dtype(prefix + name);
    if (dtype != dtype_name<T>()) {
      throw value_error(fmt::format("checkpoint '{}': entry '{}' is {}, the model is {}",
                                    npz.path(), prefix + name, dtype, dtype_name<T>()));
    }
    const Array<T> value = npz.get<T>(prefix + name);
    if (value.shape() != var.shape()) {
      throw value_error(
          fmt::format("checkpoint '{}': entry '{}' has shape {}, the model expects {}", npz.path(),
                      prefix + name, shape_str(value.shape()), shape_str(var.shape())));
    }
    out.emplace_back(name, value);
  }
  if (strict && !missing.empty()) {
    throw value_error(
        fmt::format("checkpoint '{}': missing {}", npz.path(), fmt::join(missing, ", ")));
  }
  std::vector<std::string> extra;
  for (const auto& name : npz.names()) {
    if (name.compare(0, prefix.size(), prefix) == 0 && known.count(name) == 0) {
      extra.push_back(name);
    }
  }
  if (strict && !extra.empty()) {
    throw value_error(fmt::format("checkpoint '{}': unexpected {} (not parameters of this model)",
                                  npz.path(), fmt::join(extra, ", ")));
  }
  if (unexpected != nullptr) *unexpected = std::move(extra);
  return out;
}

// Entries under `prefix`, with the prefix removed, as T (optimizer state) or double.
template <class U>
std::vector<std::pair<std::string, Array<U>>> read_prefixed(const Npz& npz,
                                                            const std::string& prefix) {
  std::vector<std::pair<std::string, Array<U>>> out;
  for (const auto& name : npz.names()) {
    if (name.compare(0, prefix.size(), prefix) == 0) {
      out.emplace_back(name.substr(prefix.size()), npz.get<U>(name));
    }
  }
  return out;
}

// A float64 entry holding one number (a learning rate, a value the loop keeps).
double one_number(const Npz& npz, const std::string& name) {
  const Array<double> a = npz.get<double>(name);
  if (a.size() != 1) {
    throw value_error(fmt::format("checkpoint '{}': entry '{}' has shape {}, expected one number",
                                  npz.path(), name, shape_str(a.shape())));
  }
  return *a.begin();
}

IndexArray text_to_array(const std::string& text) {
  IndexArray a = IndexArray::from_shape({text.size()});
  for (std::size_t i = 0; i < text.size(); ++i) a(i) = static_cast<unsigned char>(text[i]);
  return a;
}

std::string array_to_text(const IndexArray& a) {
  std::string s(a.size(), '\0');
  for (std::size_t i = 0; i < a.size(); ++i) s[i] = static_cast<char>(a(i));
  return s;
}

Array<double> scalar(double v) {
  Array<double> a = Array<double>::from_shape({});
  a() = v;
  return a;
}

}  // namespace

template <class T>
void save_model(const nn::Module<T>& model, const std::string& path) {
  Npz npz;
  for (const auto& [name, value] : model.state_dict()) npz.put(name, value);
  npz.save(path);
}

template <class T>
nn::LoadResult load_model(nn::Module<T>& model, const std::string& path, bool strict) {
  const Npz npz = Npz::load(path);
  std::vector<std::string> unexpected;
  nn::LoadResult result =
      model.load_state_dict(read_model(npz, model, "", strict, &unexpected), strict);
  result.unexpected_keys = std::move(unexpected);
  return result;
}

template <class T>
void save_checkpoint(const std::string& path, const TrainingState<T>& state) {
  if (state.model == nullptr) throw usage_error("save_checkpoint: the training state has no model");
  Npz npz;
  for (const auto& [name, value] : state.model->state_dict()) npz.put("model." + name, value);
  if (state.optimizer != nullptr) {
    for (const auto& [name, value] : state.optimizer->state_dict())
      npz.put("optimizer." + name, value);
    // The learning rates again in double: a float model's state rounds them to float, and a
    // resumed run must continue bit for bit.
    const auto& groups = state.optimizer->param_groups();
    for (std::size_t g = 0; g < groups.size(); ++g)
      npz.put(fmt::format("lr.{}", g), scalar(groups[g].lr));
  }
  if (state.schedule != nullptr) {
    for (const auto& [name, value] : state.schedule->state_dict())
      npz.put("schedule." + name, value);
  }
  for (const auto& [name, gen] : state.generators) {
    std::ostringstream s;
    s << gen->engine();
    npz.put("rng." + name, text_to_array(s.str()));
  }
  npz.put("meta.epoch", IndexArray{state.epoch});
  for (const auto& [name, value] : state.values) npz.put("value." + name, scalar(value));
  npz.save(path);
}

template <class T>
void load_checkpoint(const std::string& path, TrainingState<T>& state) {
  if (state.model == nullptr) throw usage_error("load_checkpoint: the training state has no model");
  const Npz npz = Npz::load(path);
  const auto wrap = [&](const std::string& what, auto&& fn) {
    try {
      fn();
    } catch (const value_error& e) {
      throw value_error(fmt::format("checkpoint '{}': {}: {}", path, what, e.what()));
    }
  };
  // Read and check everything before changing anything.
  const nn::StateDict<T> model_state = read_model(npz, *state.model, "model.");
  const auto optimizer_state = read_prefixed<T>(npz, "optimizer.");
  const auto schedule_state = read_prefixed<double>(npz, "schedule.");
  std::map<std::string, std::mt19937_64> engines;
  for (const auto& [name, gen] : state.generators) {
    if (!npz.contains("rng." + name)) {
      throw value_error(fmt::format("checkpoint '{}': missing 'rng.{}'", path, name));
    }
    std::istringstream s(array_to_text(npz.get_index("rng." + name)));
    std::mt19937_64 engine;
    s >> engine;
    if (!s)
      throw value_error(fmt::format("checkpoint '{}': entry 'rng.{}' is corrupt", path, name));
    engines[name] = engine;
  }
  if (!npz.contains("meta.epoch"))
    throw value_error(fmt::format("checkpoint '{}': missing 'meta.epoch'", path));
  const IndexArray epoch_entry = npz.get_index("meta.epoch");
  if (epoch_entry.size() != 1) {
    throw value_error(
        fmt::format("checkpoint '{}': entry 'meta.epoch' has shape {}, expected one number", path,
                    shape_str(epoch_entry.shape())));
  }
  const Index epoch = *epoch_entry.begin();
  std::map<std::string, double> values;
  for (const auto& name : npz.names()) {
    if (name.compare(0, 6, "value.") == 0) values[name.substr(6)] = one_number(npz, name);
  }
  std::vector<double> lrs;
  if (state.optimizer != nullptr) {
    if (optimizer_state.empty())
      throw value_error(fmt::format("checkpoint '{}': no optimizer state", path));
    for (std::size_t g = 0; g < state.optimizer->param_groups().size(); ++g) {
      const std::string key = fmt::format("lr.{}", g);
      if (!npz.contains(key))
        throw value_error(fmt::format("checkpoint '{}': missing '{}'", path, key));
      lrs.push_back(one_number(npz, key));
    }
  }
  if (state.schedule != nullptr && schedule_state.empty()) {
    throw value_error(fmt::format("checkpoint '{}': no schedule state", path));
  }
  // Apply. The optimizer and the schedule validate their own state first and change nothing
  // when it does not fit; snapshots restore the model if they throw.
  const nn::StateDict<T> previous = state.model->state_dict();
  std::vector<std::pair<std::string, Array<T>>> previous_optimizer;
  std::vector<double> previous_lrs;
  if (state.optimizer != nullptr) {
    previous_optimizer = state.optimizer->state_dict();
    for (const auto& g : state.optimizer->param_groups()) previous_lrs.push_back(g.lr);
  }
  state.model->load_state_dict(model_state);
  try {
    if (state.optimizer != nullptr) {
      wrap("optimizer", [&] { state.optimizer->load_state_dict(optimizer_state); });
      auto& groups = state.optimizer->param_groups();
      for (std::size_t g = 0; g < groups.size(); ++g) groups[g].lr = lrs[g];
    }
    if (state.schedule != nullptr)
      wrap("schedule", [&] { state.schedule->load_state_dict(schedule_state); });
  } catch (...) {
    state.model->load_state_dict(previous);
    if (state.optimizer != nullptr) {
      state.optimizer->load_state_dict(previous_optimizer);
      auto& groups = state.optimizer->param_groups();
      for (std::size_t g = 0; g < groups.size(); ++g) groups[g].lr = previous_lrs[g];
    }
    throw;
  }
  for (auto& [name, gen] : state.generators) gen->engine() = engines[name];
  state.epoch = epoch;
  state.values = values;
}

#define TAPEGRAD_INSTANTIATE(T)                                                    \
  template void save_model<T>(const nn::Module<T>&, const std::string&);           \
  template nn::LoadResult load_model<T>(nn::Module<T>&, const std::string&, bool); \
  template void save_checkpoint<T>(const std::string&, const TrainingState<T>&);   \
  template void load_checkpoint<T>(const std::string&, TrainingState<T>&);

TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)

}  // namespace tapegrad::optim
