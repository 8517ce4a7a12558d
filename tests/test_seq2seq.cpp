// nn::Encoder, nn::AttentionDecoder, greedy_decode and beam_search: shapes, gradchecks of a
// decoder step in both styles, teacher forcing against a hand loop, greedy equal to a beam of 1,
// beam search equal to exhaustive search when the beam holds every hypothesis, and the errors.
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <xtensor/xview.hpp>

#include "helpers.hpp"
#include "tapegrad/nn/decode.hpp"

namespace nn = tapegrad::nn;
using tapegrad::Array;
using tapegrad::Index;
using tapegrad::IndexArray;
using tapegrad::shape_error;
using tapegrad::value_error;
using tapegrad_test::message_of;
using V = tapegrad::Var<double>;
using Vs = std::vector<V>;

namespace {

constexpr std::size_t kVocab = 7;  // 0 <pad>, 1 <sos>, 2 <eos>, 3..6 words
constexpr Index kSos = 1, kEos = 2;

nn::EncoderOptions encoder_options(nn::CellKind cell, bool bidirectional) {
  nn::EncoderOptions o;
  o.cell = cell;
  o.vocab_size = kVocab;
  o.embedding_size = 3;
  o.hidden_size = 4;
  o.bidirectional = bidirectional;
  return o;
}

nn::DecoderOptions decoder_options(nn::CellKind cell, nn::AttentionStyle style,
                                   std::size_t context) {
  nn::DecoderOptions o;
  o.cell = cell;
  o.vocab_size = kVocab;
  o.embedding_size = 3;
  o.hidden_size = 4;
  o.context_size = context;
  o.style = style;
  return o;
}

const IndexArray kSource = {{3, 4, 5, 6}, {6, 5, 0, 0}};  // lengths 4 and 2
const std::vector<std::size_t> kLengths = {4, 2};

}  // namespace

TEST_CASE("Encoder: outputs [B, S, D*H] and a decoder's state [L, B, H], both directions joined") {
  for (const nn::CellKind cell : {nn::CellKind::gru, nn::CellKind::lstm}) {
    for (const bool bi : {true, false}) {
      INFO("lstm: ", cell == nn::CellKind::lstm, ", bidirectional: ", bi);
      tapegrad::Generator g(3);
      nn::Encoder<double> encoder(encoder_options(cell, bi), g);
      const auto out = encoder(kSource, kLengths);
      CHECK(out.outputs.shape() == tapegrad::make_shape({2, 4, bi ? 8u : 4u}));
      CHECK(encoder.output_size() == (bi ? 8u : 4u));
      CHECK(out.state.h.shape() == tapegrad::make_shape({1, 2, 4}));
      CHECK(out.state.c.defined() == (cell == nn::CellKind::lstm));
      // padding: the short sentence's outputs past its length are zero
      CHECK(out.outputs.value()(1, 3, 0) == 0.0);
      CHECK(out.outputs.value()(1, 1, 0) != 0.0);
    }
  }
}

TEST_CASE("AttentionDecoder: a step gradchecks in both styles, GRU and LSTM, every score") {
  for (const nn::CellKind cell : {nn::CellKind::gru, nn::CellKind::lstm}) {
    for (const nn::AttentionStyle style :
         {nn::AttentionStyle::luong, nn::AttentionStyle::bahdanau}) {
      for (const nn::AttentionScore score :
           {nn::AttentionScore::general, nn::AttentionScore::additive, nn::AttentionScore::dot}) {
        INFO("lstm: ", cell == nn::CellKind::lstm, ", luong: ", style == nn::AttentionStyle::luong,
             ", score: ", nn::to_string(score));
        tapegrad::Generator g(5);
        auto options = decoder_options(cell, style, 4);
        options.score = score;
        nn::AttentionDecoder<double> decoder(options, g);
        const V keys(g.normal<double>(tapegrad::make_shape({2, 3, 4})), true);
        const V h0(g.normal<double>(tapegrad::make_shape({1, 2, 4})), true);
        const auto fn = [&](const Vs& x) {
          const auto memory = decoder.memory(x[0], {3, 2});
          nn::DecoderState<double> state;
          state.rnn.h = x[1];
          if (cell == nn::CellKind::lstm) state.rnn.c = x[1] * 0.5;
          // two steps, so the second reads the first's state (and Luong's feed)
          const auto s1 = decoder.step(IndexArray{kSos, kSos}, state, memory);
          const auto s2 = decoder.step(IndexArray{3, 5}, s1.state, memory);
          return tapegrad::sum(s2.logits * s2.logits) + tapegrad::sum(s1.weights * s1.weights);
        };
        const auto report = tapegrad::gradcheck(fn, {keys, h0}, decoder.parameters());
        CHECK_MESSAGE(report.passed, report.message());
      }
    }
  }
}

TEST_CASE(
    "AttentionDecoder: teacher forcing is the step loop over the gold inputs, ratio 0 the "
    "loop over its own argmax") {
  tapegrad::Generator g(9);
  nn::Encoder<double> encoder(encoder_options(nn::CellKind::gru, true), g);
  nn::AttentionDecoder<double> decoder(
      decoder_options(nn::CellKind::gru, nn::AttentionStyle::luong, encoder.output_size()), g);
  const auto enc = encoder(kSource, kLengths);
  const auto memory = decoder.memory(enc.outputs, kLengths);
  const nn::DecoderState<double> initial{enc.state, {}};
  const IndexArray inputs = {{kSos, 3, 4}, {kSos, 6, 6}};
  const auto run = decoder(inputs, initial, memory);
  CHECK(run.logits.shape() == tapegrad::make_shape({2, 3, kVocab}));
  CHECK(run.weights.shape() == tapegrad::make_shape({2, 3, 4}));
  nn::DecoderState<double> state = initial;
  IndexArray own = {kSos, kSos};
  nn::DecoderState<double> own_state = initial;
  const auto free_run = decoder(inputs, initial, memory, 0.0);
  for (std::size_t t = 0; t < 3; ++t) {
    const auto s = decoder.step(IndexArray{inputs(0, t), inputs(1, t)}, state, memory);
    TG_CHECK_CLOSE(s.logits.value(),
                   Array<double>(xt::view(run.logits.value(), xt::all(), t, xt::all())), 0.0);
    state = s.state;
    const auto f = decoder.step(own, own_state, memory);
    TG_CHECK_CLOSE(f.logits.value(),
                   Array<double>(xt::view(free_run.logits.value(), xt::all(), t, xt::all())), 0.0);
    own = tapegrad::argmax(f.logits, -1);
    own_state = f.state;
  }
  CHECK(message_of<value_error>([&] { (void)decoder(inputs, initial, memory, 1.5); }) ==
        "AttentionDecoder: teacher_forcing_ratio 1.5 is outside [0, 1]");
}

TEST_CASE("greedy_decode is beam_search with one beam and no length penalty") {
  for (const nn::AttentionStyle style : {nn::AttentionStyle::luong, nn::AttentionStyle::bahdanau}) {
    for (std::uint64_t seed = 1; seed <= 4; ++seed) {
      tapegrad::Generator g(seed);
      nn::Encoder<double> encoder(encoder_options(nn::CellKind::lstm, true), g);
      nn::AttentionDecoder<double> decoder(
          decoder_options(nn::CellKind::lstm, style, encoder.output_size()), g);
      const auto enc = encoder(kSource, kLengths);
      const auto memory = decoder.memory(enc.outputs, kLengths);
      const auto greedy = nn::greedy_decode(decoder, memory, {enc.state, {}}, kSos, kEos, 6);
      nn::BeamOptions one;
      one.beam_width = 1;
      one.length_penalty = 0.0;
      one.max_length = 6;
      const auto beam = nn::beam_search(decoder, memory, {enc.state, {}}, kSos, kEos, one);
      CHECK(greedy.tokens == beam.tokens);
      for (std::size_t b = 0; b < 2; ++b) {
        CHECK(greedy.scores[b] == doctest::Approx(beam.scores[b]).epsilon(1e-12));
        TG_CHECK_CLOSE(greedy.weights[b], beam.weights[b], 0.0);
        const std::size_t steps = greedy.tokens[b].size() + (greedy.tokens[b].size() < 6 ? 1 : 0);
        CHECK(greedy.weights[b].shape() == std::vector<std::size_t>{steps, 4});
      }
    }
  }
}

TEST_CASE("beam_search finds the best hypothesis when the beam can hold them all") {
  // A vocabulary of 3 (0 unused, 1 <sos>/word, 2 <eos>), at most 3 tokens: every hypothesis
  // fits in a beam of 27, so the search is exhaustive and must match brute force.
  tapegrad::Generator g(21);
  nn::EncoderOptions eo = encoder_options(nn::CellKind::gru, false);
  eo.vocab_size = 3;
  nn::DecoderOptions dopt = decoder_options(nn::CellKind::gru, nn::AttentionStyle::luong, 4);
  dopt.vocab_size = 3;
  nn::Encoder<double> encoder(eo, g);
  nn::AttentionDecoder<double> decoder(dopt, g);
  const IndexArray source = {{1, 2, 1}};
  const auto enc = encoder(source, {3});
  const auto memory = decoder.memory(enc.outputs, {3});
  const nn::DecoderState<double> initial{enc.state, {}};
  for (const double alpha : {0.0, 1.0}) {
    // brute force: every sequence of up to 3 tokens from {0, 1, 2}, ending at <eos> (2)
    double best = -std::numeric_limits<double>::infinity();
    std::vector<Index> best_tokens;
    std::function<void(std::vector<Index>, nn::DecoderState<double>, Index, double)> walk =
        [&](std::vector<Index> tokens, nn::DecoderState<double> state, Index prev, double lp) {
          tapegrad::NoGrad no_grad;
          const auto s = decoder.step(IndexArray{prev}, state, memory);
          const Array<double> log_p = tapegrad::log_softmax(s.logits, -1).value();
          for (Index v = 0; v < 3; ++v) {
            const double score = lp + log_p(0, static_cast<std::size_t>(v));
            std::vector<Index> next = tokens;
            if (v != 2) next.push_back(v);
            const bool ends = v == 2 || next.size() == 3;
            if (ends) {
              const double len = static_cast<double>(v == 2 ? tokens.size() + 1 : 3);
              const double normalised = score / std::pow(len, alpha);
              if (normalised > best) {
                best = normalised;
                best_tokens = next;
              }
            } else {
              walk(next, s.state, v, score);
            }
          }
        };
    walk({}, initial, kSos, 0.0);
    nn::BeamOptions all;
    all.beam_width = 27;
    all.length_penalty = alpha;
    all.max_length = 3;
    const auto beam = nn::beam_search(decoder, memory, initial, kSos, kEos, all);
    INFO("alpha ", alpha);
    CHECK(beam.tokens[0] == best_tokens);
    CHECK(beam.scores[0] == doctest::Approx(best).epsilon(1e-12));
  }
}

TEST_CASE("a style's name parses back to it, and an unknown name lists the known ones") {
  for (const auto style : {nn::AttentionStyle::luong, nn::AttentionStyle::bahdanau}) {
    CAPTURE(nn::to_string(style));
    CHECK(nn::parse_attention_style(nn::to_string(style)) == style);
  }
  TG_CHECK_CONTAINS(
      message_of<tapegrad::value_error>([] { nn::parse_attention_style("additive"); }),
      "unknown attention style \"additive\" (expected luong or bahdanau)");
}

TEST_CASE("decoding errors name what was wrong") {
  tapegrad::Generator g(2);
  nn::Encoder<double> encoder(encoder_options(nn::CellKind::gru, false), g);
  nn::AttentionDecoder<double> decoder(
      decoder_options(nn::CellKind::gru, nn::AttentionStyle::luong, 4), g);
  const auto enc = encoder(kSource, kLengths);
  const auto memory = decoder.memory(enc.outputs, kLengths);
  CHECK(message_of<value_error>([&] {
          (void)nn::greedy_decode(decoder, memory, {enc.state, {}}, kSos, 7, 5);
        }) == "greedy_decode: eos_id 7 is outside the decoder's vocabulary [0, 7)");
  CHECK(message_of<value_error>([&] {
          (void)nn::greedy_decode(decoder, memory, {enc.state, {}}, kSos, kEos, 0);
        }) == "greedy_decode: max_length must be positive");
  nn::BeamOptions zero;
  zero.beam_width = 0;
  CHECK(message_of<value_error>([&] {
          (void)nn::beam_search(decoder, memory, {enc.state, {}}, kSos, kEos, zero);
        }) == "beam_search: beam_width must be positive");
  CHECK(message_of<shape_error>([&] {
          (void)decoder.step(IndexArray{kSos, kSos, kSos}, {enc.state, {}}, memory);
        }) == "AttentionDecoder: expected previous tokens [2] for this memory, got [3]");
  nn::EncoderOptions bad = encoder_options(nn::CellKind::gru, true);
  bad.hidden_size = 0;
  CHECK(message_of<value_error>([&] { nn::Encoder<double> e(bad); }) ==
        "Encoder: sizes must be positive, got hidden_size 0");
}
