// Evaluation mode for a scope, for the examples' evaluation and decoding functions, which
// leave the model in the mode they found it in.
#pragma once

#include <tapegrad/nn.hpp>

namespace examples {

/// Evaluation mode (no dropout) for a module while alive, then the mode it found.
class EvalMode {
 public:
  explicit EvalMode(tapegrad::nn::Module<float>& model)
      : model_(model), was_training_(model.is_training()) {
    model_.eval();
  }
  ~EvalMode() { model_.train(was_training_); }
  EvalMode(const EvalMode&) = delete;
  EvalMode& operator=(const EvalMode&) = delete;

 private:
  tapegrad::nn::Module<float>& model_;
  bool was_training_;
};

}  // namespace examples
