/// @file
/// Checkpoints as NumPy .npz files under PyTorch's names: models, and whole training states.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tapegrad/autograd/random.hpp"
#include "tapegrad/nn/module.hpp"
#include "tapegrad/optim/optimizer.hpp"
#include "tapegrad/optim/schedule.hpp"

namespace tapegrad::optim {

/// Writes the model's parameters to `path` as .npz (float32 for a float model, float64 for a
/// double one), keyed by their dotted PyTorch names: `numpy.load` reads it and
/// `model.load_state_dict({k: torch.from_numpy(v) ...})` loads it into the matching PyTorch
/// model. Atomic: a failed save leaves an existing file untouched.
template <class T>
void save_model(const nn::Module<T>& model, const std::string& path);

/// Loads parameters saved by save_model or by `numpy.savez(path, **torch_state_dict_as_numpy)`.
/// A missing file, a corrupt or truncated one, a wrong shape or dtype of an entry the model
/// has is a value_error naming the file and the entry, and the model is unchanged. Strict (the
/// default): so is a missing or an unexpected name. Not strict (PyTorch's strict=False): the
/// entries the model has are loaded, its other parameters keep their values, and the result
/// names the parameters the file lacked (`missing_keys`) and the entries no parameter took
/// (`unexpected_keys`): a pretrained encoder's file into a bigger model.
template <class T>
nn::LoadResult load_model(nn::Module<T>& model, const std::string& path, bool strict = true);

/// Everything a training run needs to continue exactly: the model, the optimizer (moments,
/// step counts, learning rates), the schedule, the epoch, random generators (dropout masks,
/// shuffling) and any numbers the loop keeps (best validation loss, ...).
template <class T>
struct TrainingState {
  /// Required: saving or loading a state without one is a usage_error.
  nn::Module<T>* model = nullptr;
  Optimizer<T>* optimizer = nullptr;             ///< optional: its state and learning rates
  Schedule<T>* schedule = nullptr;               ///< optional
  std::map<std::string, Generator*> generators;  ///< by name, e.g. {"shuffle", &gen}
  std::int64_t epoch = 0;  ///< the loop's epoch count, saved as it is; load_checkpoint sets it
  /// Numbers the loop keeps, such as {"best_valid_loss", 0.41}; load_checkpoint replaces the
  /// map with the file's.
  std::map<std::string, double> values;
};

/// Saves a training state to one .npz file (atomic).
template <class T>
void save_checkpoint(const std::string& path, const TrainingState<T>& state);

/// Restores a training state saved by save_checkpoint: the model's parameters, the optimizer's
/// and schedule's state, the generators, `epoch` and `values`. Everything is read and checked
/// first; on any error (value_error naming file and entry) nothing is changed.
template <class T>
void load_checkpoint(const std::string& path, TrainingState<T>& state);

}  // namespace tapegrad::optim
