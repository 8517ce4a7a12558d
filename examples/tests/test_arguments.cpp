// Bad arguments to the examples' options (the tables: tests/arguments.hpp).
#include <cmath>
#include <cstddef>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "arguments.hpp"
#include "char_lm.hpp"
#include "forecast.hpp"
#include "sentiment.hpp"
#include "tapegrad/data.hpp"

namespace data = tapegrad::data;
using namespace tapegrad_test::arguments;  // Bad, expect_rejected, Array, Var, ...

TEST_CASE("arguments: the examples' options reject zero sizes, bad rates and unknown names") {
  // sentiment
  const auto model_config = [](auto set) {
    sentiment::ModelConfig c;
    c.vocab_size = 10;
    set(c);
    return c;
  };
  const auto train_config = [](auto set) {
    sentiment::TrainConfig c;
    set(c);
    return c;
  };
  expect_rejected<tapegrad::value_error>({
      {"sentiment vocab_size 1", [&] { model_config([](auto& c) { c.vocab_size = 1; }).check(); },
       "vocab_size must be at least 2 (<pad> and <unk>), got 1"},
      {"sentiment num_classes 1", [&] { model_config([](auto& c) { c.num_classes = 1; }).check(); },
       "num_classes 1"},
      {"sentiment embedding_dim 0",
       [&] { model_config([](auto& c) { c.embedding_dim = 0; }).check(); },
       "ModelConfig: embedding_dim must be at least 1, got 0"},
      {"sentiment dropout 1", [&] { model_config([](auto& c) { c.dropout = 1.0; }).check(); },
       "ModelConfig: dropout must be in [0, 1), got 1"},
      {"sentiment embedding_dropout -1e-09",
       [&] { model_config([](auto& c) { c.embedding_dropout = -1e-9; }).check(); },
       "embedding_dropout must be in [0, 1), got -1e-09"},
      {"sentiment embedding_init_std 0",
       [&] { model_config([](auto& c) { c.embedding_init_std = 0; }).check(); },
       "embedding_init_std must be positive and finite, got 0"},
      {"sentiment Classifier hidden_size 0",
       [&] { sentiment::Classifier m(model_config([](auto& c) { c.hidden_size = 0; }), 1); },
       "hidden_size must be at least 1, got 0"},
      {"sentiment epochs 0", [&] { train_config([](auto& c) { c.epochs = 0; }).check(); },
       "TrainConfig: epochs must be at least 1, got 0"},
      {"sentiment batch_size 0", [&] { train_config([](auto& c) { c.batch_size = 0; }).check(); },
       "batch_size must be at least 1, got 0"},
      {"sentiment lr -0.1", [&] { train_config([](auto& c) { c.lr = -0.1; }).check(); },
       "lr must be positive and finite, got -0.1"},
      {"sentiment lr nan", [&] { train_config([](auto& c) { c.lr = not_a_number; }).check(); },
       "got nan"},
      {"sentiment weight_decay -1",
       [&] { train_config([](auto& c) { c.weight_decay = -1; }).check(); },
       "weight_decay must be >= 0 and finite, got -1"},
      {"sentiment clip_norm -1", [&] { train_config([](auto& c) { c.clip_norm = -1; }).check(); },
       "clip_norm must be >= 0 and finite (0: off), got -1"},
      {"sentiment label_smoothing 1",
       [&] { train_config([](auto& c) { c.label_smoothing = 1.0; }).check(); },
       "label_smoothing must be in [0, 1), got 1"},
      {"sentiment word_dropout 1.5",
       [&] { train_config([](auto& c) { c.word_dropout = 1.5; }).check(); },
       "word_dropout must be in [0, 1), got 1.5"},
      {"sentiment parse_cell_kind rnn", [] { tapegrad::nn::parse_cell_kind("rnn"); },
       "unknown cell kind \"rnn\""},
      {"sentiment parse_pooling sum", [] { sentiment::parse_pooling("sum"); },
       "unknown pooling \"sum\""},
      {"sentiment evaluate batch_size 0",
       [&] {
         sentiment::Classifier m(model_config([](auto&) {}), 1);
         sentiment::evaluate(m, sentiment::Examples{}, 0);
       },
       "evaluate: batch_size must be at least 1, got 0"},
  });
  expect_accepted({
      {"sentiment dropout 0, label_smoothing 0, word_dropout 0, clip_norm 0",
       [&] {
         model_config([](auto& c) {
           c.dropout = 0;
           c.embedding_dropout = 0;
         }).check();
         train_config([](auto& c) {
           c.label_smoothing = 0;
           c.word_dropout = 0;
           c.clip_norm = 0;
         }).check();
       }},
  });

  // char_lm
  const auto lm_options = [](auto set) {
    char_lm::Options o;
    set(o);
    return o;
  };
  const data::Vocabulary lm_vocab = char_lm::build_vocabulary("abc");
  tapegrad::Generator gen(1);
  char_lm::ModelConfig lm_config;
  lm_config.vocab_size = lm_vocab.size();
  lm_config.embedding_size = 2;
  lm_config.hidden_size = 2;
  char_lm::CharModel lm(lm_config, gen);
  expect_rejected<tapegrad::value_error>({
      {"char_lm valid_fraction 0",
       [&] { char_lm::check_options(lm_options([](auto& o) { o.valid_fraction = 0; })); },
       "--valid-fraction must be in (0, 0.5], got 0"},
      {"char_lm valid_fraction 0.6",
       [&] { char_lm::check_options(lm_options([](auto& o) { o.valid_fraction = 0.6; })); },
       "got 0.6"},
      {"char_lm cell rnn",
       [&] { char_lm::check_options(lm_options([](auto& o) { o.cell = "rnn"; })); }, "got 'rnn'"},
      {"char_lm hidden 0",
       [&] { char_lm::check_options(lm_options([](auto& o) { o.hidden_size = 0; })); },
       "--hidden must be at least 1, got 0"},
      {"char_lm batch_size 0",
       [&] { char_lm::check_options(lm_options([](auto& o) { o.batch_size = 0; })); },
       "--batch-size must be at least 1, got 0"},
      {"char_lm dropout 1",
       [&] { char_lm::check_options(lm_options([](auto& o) { o.dropout = 1; })); },
       "--dropout must be in [0, 1), got 1"},
      {"char_lm lr 0", [&] { char_lm::check_options(lm_options([](auto& o) { o.lr = 0; })); },
       "--lr must be positive and finite, got 0"},
      {"char_lm clip nan",
       [&] { char_lm::check_options(lm_options([](auto& o) { o.clip = not_a_number; })); },
       "--clip must be positive, got nan"},
      {"char_lm temperature inf",
       [&] { char_lm::check_options(lm_options([](auto& o) { o.temperature = infinity; })); },
       "got inf"},
      {"char_lm CharModel dropout 1.5",
       [&] {
         char_lm::ModelConfig c = lm_config;
         c.dropout = 1.5;
         char_lm::CharModel m(c, gen);
       },
       "dropout 1.5"},
      {"char_lm CharModel vocab_size 0",
       [&] {
         char_lm::ModelConfig c = lm_config;
         c.vocab_size = 0;
         char_lm::CharModel m(c, gen);
       },
       "vocab_size 0"},
      {"char_lm sample temperature 0", [&] { char_lm::sample(lm, lm_vocab, "ab", 0.0, 5, 1); },
       "got 0"},
      {"char_lm sample length 0", [&] { char_lm::sample(lm, lm_vocab, "ab", 1.0, 0, 1); },
       "length must be at least 1, got 0"},
      {"char_lm sample unknown prompt byte",
       [&] { char_lm::sample(lm, lm_vocab, "az", 1.0, 5, 1); }, "'z' (byte 0x7a)"},
      {"char_lm evaluate chunk 0",
       [&] {
         char_lm::evaluate(lm, {2, 3, 4}, 0);
       },
       "(got 0)"},
      {"char_lm make_streams batch 0",
       [] {
         char_lm::make_streams({2, 3, 4}, 0, 1);
       },
       "batch 0"},
      {"char_lm make_corpus fraction 0.7", [] { char_lm::make_corpus("abcdefgh", 0.7); },
       "got 0.7"},
      {"char_lm chunk_at k 0",
       [] {
         IndexArray streams = IndexArray::from_shape({4, 2});
         streams.fill(2);
         char_lm::chunk_at(streams, 0, 0);
       },
       "steps 0 .. 0"},
      {"char_lm chunk_at 1-D streams",
       [] {
         char_lm::chunk_at(IndexArray{2, 3, 4}, 0, 1);
       },
       "got [3]"},
  });

  // forecast
  const auto fc_options = [](auto set) {
    forecast::Options o;
    set(o);
    return o;
  };
  expect_rejected<tapegrad::value_error>({
      {"forecast window 0",
       [&] { forecast::validate(fc_options([](auto& o) { o.window = 0; }), 1500); },
       "--window 0 must be at least 1"},
      {"forecast batch 0",
       [&] { forecast::validate(fc_options([](auto& o) { o.batch = 0; }), 1500); }, "--batch 0"},
      {"forecast layers 0",
       [&] { forecast::validate(fc_options([](auto& o) { o.layers = 0; }), 1500); }, "--layers 0"},
      {"forecast lr nan",
       [&] { forecast::validate(fc_options([](auto& o) { o.lr = not_a_number; }), 1500); },
       "--lr nan"},
      {"forecast clip -1",
       [&] { forecast::validate(fc_options([](auto& o) { o.clip = -1; }), 1500); }, "--clip -1"},
      {"forecast valid_fraction 1",
       [&] { forecast::validate(fc_options([](auto& o) { o.valid_fraction = 1; }), 1500); },
       "--valid-fraction 1"},
      {"forecast Forecaster hidden 0",
       [&] { forecast::Forecaster m(tapegrad::nn::CellKind::lstm, 0, 1, 1, gen); },
       "hidden_size 0"},
      {"forecast Forecaster horizon 0",
       [&] { forecast::Forecaster m(tapegrad::nn::CellKind::gru, 4, 1, 0, gen); },
       "out_features 0"},
  });
  expect_accepted({
      {"forecast defaults", [&] { forecast::validate(forecast::Options{}, 1500); }},
      {"char_lm defaults", [&] { char_lm::check_options(char_lm::Options{}); }},
      {"char_lm dropout 0",
       [&] { char_lm::check_options(lm_options([](auto& o) { o.dropout = 0; })); }},
  });
}
