// Bad arguments to tapegrad::nn's layers (the tables: arguments.hpp).
#include <cmath>
#include <cstddef>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "arguments.hpp"
#include "tapegrad/nn.hpp"

namespace nn = tapegrad::nn;
using namespace tapegrad_test::arguments;  // Bad, expect_rejected, Array, Var, ...

TEST_CASE("arguments: layers reject bad sizes, ids, probabilities and lengths") {
  const Var<double> x2 = random_var({2, 3}, 1);
  const Var<double> seq = random_var({4, 2, 3}, 2);  // [T, B, in]
  nn::Embedding<double> table(5, 2);
  nn::LSTM<double> lstm(nn::RNNOptions(3, 2));
  expect_rejected<tapegrad::value_error>({
      {"Linear(0, 3)", [] { nn::Linear<double> l(0, 3); }, "in_features 0"},
      {"Linear(3, 0)", [] { nn::Linear<double> l(3, 0); }, "out_features 0"},
      {"Linear(-1, 3)", [] { nn::Linear<double> l(minus_one, 3); }, "in_features -1"},
      {"Embedding(0, 4)", [] { nn::Embedding<double> e(0, 4); }, "num_embeddings 0"},
      {"Embedding(5, 0)", [] { nn::Embedding<double> e(5, 0); }, "embedding_dim 0"},
      {"Embedding(-3, 4)", [] { nn::Embedding<double> e(static_cast<std::size_t>(-3), 4); },
       "num_embeddings -3"},
      {"Embedding padding_idx 5 of 5", [] { nn::Embedding<double> e(5, 4, 5); }, "padding_idx 5"},
      {"Embedding padding_idx -2", [] { nn::Embedding<double> e(5, 4, -2); }, "padding_idx -2"},
      {"Embedding::from_pretrained padding_idx 3",
       [] {
         Array<double> w = Array<double>::from_shape({3, 2});
         w.fill(0.0);
         nn::Embedding<double>::from_pretrained(w, true, 3);
       },
       "padding_idx 3"},
      {"Embedding id 5 of 5",
       [&] {
         table(IndexArray{0, 5});
       },
       "id 5"},
      {"Embedding id -1",
       [&] {
         table(IndexArray{-1, 0});
       },
       "id -1"},
      {"Dropout(1)", [] { nn::Dropout<double> d(1.0); }, "p = 1"},
      {"Dropout(-0.1)", [] { nn::Dropout<double> d(-0.1); }, "p = -0.1"},
      {"Dropout(nan)", [] { nn::Dropout<double> d(not_a_number); }, "p = nan"},
      {"dropout(x, 1.5)", [&] { tapegrad::dropout(x2, 1.5, true); }, "p = 1.5"},
      {"RNN input_size 0", [] { nn::RNN<double> r(nn::RNNOptions(0, 4)); }, "input_size 0"},
      {"LSTM hidden_size 0", [] { nn::LSTM<double> r(nn::RNNOptions(3, 0)); }, "hidden_size 0"},
      {"GRU num_layers 0", [] { nn::GRU<double> r(nn::RNNOptions(3, 2).num_layers(0)); },
       "num_layers 0"},
      {"LSTM dropout 1", [] { nn::LSTM<double> r(nn::RNNOptions(3, 2).dropout(1.0)); },
       "dropout 1"},
      {"GRU dropout -0.5", [] { nn::GRU<double> r(nn::RNNOptions(3, 2).dropout(-0.5)); },
       "dropout -0.5"},
      {"RNN dropout nan", [] { nn::RNN<double> r(nn::RNNOptions(3, 2).dropout(not_a_number)); },
       "dropout nan"},
      {"RNNCell(0, 4)", [] { nn::RNNCell<double> c(0, 4); }, "input_size 0"},
      {"LSTMCell(3, 0)", [] { nn::LSTMCell<double> c(3, 0); }, "hidden_size 0"},
      {"GRUCell(0, 2)", [] { nn::GRUCell<double> c(0, 2); }, "input_size 0"},
      {"LSTM length 0",
       [&] {
         lstm(seq, {0, 2});
       },
       "length 0"},
      {"LSTM length 5 > T 4",
       [&] {
         lstm(seq, {5, 2});
       },
       "length 5"},
      {"LSTM 1 length for 2 sequences", [&] { lstm(seq, {4}); },
       "1 lengths given for a batch of 2"},
      {"LSTM weights(1, 0) of 1 layer", [&] { lstm.weights(1, 0); }, "no layer 1"},
      {"LSTM weights(0, 1) unidirectional", [&] { lstm.weights(0, 1); }, "direction 1"},
      {"Module::parameter unknown", [&] { lstm.parameter("weight"); }, "no parameter 'weight'"},
  });
  expect_rejected<tapegrad::shape_error>({
      {"Softmax(3) on [2,3]", [&] { nn::Softmax<double>(3)(x2); }, "axis 3"},
      {"LogSoftmax(-3) on [2,3]", [&] { nn::LogSoftmax<double>(-3)(x2); }, "axis -3"},
      {"LSTM input with 5 features",
       [&] {
         lstm(random_var({4, 2, 5}, 3));
       },
       "input_size 3"},
      {"Linear input with 4 features",
       [] {
         nn::Linear<double>(3, 2)(random_var({2, 4}, 4));
       },
       "[2,4]"},
  });
  expect_rejected<tapegrad::usage_error>({
      {"Sequential::add(empty function)",
       [] {
         nn::Sequential<double> net;
         net.add(std::function<Var<double>(const Var<double>&)>());
       },
       "step 0 is an empty function"},
  });
  // A negative size converted to std::size_t is refused before anything is allocated: by the
  // layer naming it ("-1"), or else by the generator that would draw the weights, which names
  // the shape it was asked for ("a negative size?").
  for (const auto& options : {nn::RNNOptions(minus_one, 2), nn::RNNOptions(3, minus_one)}) {
    const std::string m =
        tapegrad_test::message_of<tapegrad::value_error>([&] { nn::GRU<double> r(options); });
    CHECK_MESSAGE((tapegrad_test::contains(m, "-1") || tapegrad_test::contains(m, "negative size")),
                  "message: ", m);
  }
  expect_accepted({
      {"Dropout(0)", [] { nn::Dropout<double> d(0.0); }},
      {"Dropout(0.999)", [] { nn::Dropout<double> d(0.999); }},
      {"LSTM dropout 0 with 2 layers",
       [] { nn::LSTM<double> r(nn::RNNOptions(3, 2).num_layers(2).dropout(0.0)); }},
      {"Embedding padding_idx 4 of 5", [] { nn::Embedding<double> e(5, 4, 4); }},
      {"Embedding ids 0 and 4 of 5",
       [&] {
         table(IndexArray{0, 4});
       }},
      {"LSTM lengths T and 1",
       [&] {
         lstm(seq, {4, 1});
       }},
      {"Softmax(-2) on [2,3]", [&] { nn::Softmax<double>(-2)(x2); }},
  });
}
