// Tutorial 6: PyTorch's "NLP from scratch: translation with a sequence to sequence network and
// attention". A GRU encoder reads an English sentence; a GRU decoder with Bahdanau's additive
// attention over the encoder's outputs writes the French one word by word, trained with teacher
// forcing and the negative log-likelihood, then translates greedily up to <eos>. The tutorial's
// eng-fra file is not downloaded: the pairs are generated here from a small grammar in the
// spirit of its filter ("i am", "he is", "they are", ...), with French's verb forms, ne ... pas
// and adjective agreement; a tenth of them is held out for exact match and BLEU.
// docs/tutorials.md shows the PyTorch program it follows.
//
//   translator [--epochs N]
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <tapegrad/tapegrad.hpp>
#include "guarded_main.hpp"
#include "tutorial.hpp"

using namespace tapegrad;

using Words = std::vector<std::string>;
using Pairs = std::vector<std::pair<std::string, std::string>>;

// The subjects: English, then French with its form of "être", and the form an adjective takes
// after it (0 masculine singular, 1 feminine singular, 2 masculine plural, 3 feminine plural).
// Where English gives no gender (i, you, we, they) the French is masculine; "you" is "tu".
struct Subject {
  std::string en, fr, verb;
  std::size_t form;
};
const std::vector<Subject> subjects = {{"i am", "je", "suis", 0},
                                       {"you are", "tu", "es", 0},
                                       {"he is", "il", "est", 0},
                                       {"she is", "elle", "est", 1},
                                       {"we are", "nous", "sommes", 2},
                                       {"they are", "ils", "sont", 2},
                                       {"my father is", "mon père", "est", 0},
                                       {"my mother is", "ma mère", "est", 1},
                                       {"my brothers are", "mes frères", "sont", 2},
                                       {"my sisters are", "mes sœurs", "sont", 3},
                                       {"the boy is", "le garçon", "est", 0},
                                       {"the girl is", "la fille", "est", 1},
                                       {"the boys are", "les garçons", "sont", 2},
                                       {"the girls are", "les filles", "sont", 3}};

// An adjective's four French forms, and a complement of its own (English, French) or none.
struct Adjective {
  std::string en;
  std::array<std::string, 4> fr;
  std::pair<std::string, std::string> complement;
};
const std::vector<Adjective> adjectives = {
    {"tired", {"fatigué", "fatiguée", "fatigués", "fatiguées"}, {" of waiting", " d'attendre"}},
    {"happy", {"heureux", "heureuse", "heureux", "heureuses"}, {" to help", " d'aider"}},
    {"ready", {"prêt", "prête", "prêts", "prêtes"}, {" to go", " à partir"}},
    {"busy", {"occupé", "occupée", "occupés", "occupées"}, {" at work", " au travail"}},
    {"alone", {"seul", "seule", "seuls", "seules"}, {" at home", " à la maison"}},
    {"married", {"marié", "mariée", "mariés", "mariées"}, {" to a doctor", " à un médecin"}},
    {"proud", {"fier", "fière", "fiers", "fières"}, {" of them", " d'eux"}},
    {"sick", {"malade", "malade", "malades", "malades"}, {}},
    {"tall", {"grand", "grande", "grands", "grandes"}, {}},
    {"sure", {"sûr", "sûre", "sûrs", "sûres"}, {}},
    {"angry", {"fâché", "fâchée", "fâchés", "fâchées"}, {}},
    {"lucky", {"chanceux", "chanceuse", "chanceux", "chanceuses"}, {}},
    {"late", {"en retard", "en retard", "en retard", "en retard"}, {}}};
const Pairs times = {
    {"", ""}, {" today", " aujourd'hui"}, {" tonight", " ce soir"}, {" now", " maintenant"}};

// Every sentence of the grammar: subject, to be, optional "not" and "very", an adjective, and
// optionally a time or the adjective's complement; in French "ne ... pas" (n' before a vowel)
// around the verb, and the adjective agreeing with the subject.
Pairs make_pairs() {
  Pairs pairs;
  for (const Subject& s : subjects) {
    for (const Adjective& a : adjectives) {
      auto complements = times;
      if (!a.complement.first.empty()) complements.push_back(a.complement);
      for (const bool negated : {false, true}) {
        for (const bool very : {false, true}) {
          const std::string verb =
              negated ? (s.verb[0] == 'e' ? "n'" : "ne ") + s.verb + " pas" : s.verb;
          const std::string en = s.en + (negated ? " not" : "") + (very ? " very " : " ") + a.en;
          const std::string fr = s.fr + " " + verb + (very ? " très " : " ") + a.fr[s.form];
          for (const auto& [c_en, c_fr] : complements) {
            pairs.emplace_back(en + c_en + ".", fr + c_fr + ".");
          }
        }
      }
    }
  }
  return pairs;
}

const data::Specials specials{"<pad>", "<unk>", "<sos>", "<eos>"};  // ids 0, 1, 2, 3
const Index pad_token = specials.id(data::SpecialRole::pad);
const Index sos_token = specials.id(data::SpecialRole::sos);
const std::size_t max_length = 12;  // MAX_LENGTH: the longest French sentence, with <eos>

class EncoderRNN : public nn::ModuleBase<EncoderRNN> {
 public:
  EncoderRNN(std::size_t input_size, std::size_t hidden_size)
      : embedding_(input_size, hidden_size, pad_token),
        gru_(nn::RNNOptions(hidden_size, hidden_size).batch_first(true)) {
    register_module("embedding", embedding_);
    register_module("gru", gru_);
    register_module("dropout", dropout_);
  }
  // input [B, S] (padded), lengths [B] -> output [B, S, H] and h_n [1, B, H]
  nn::RecurrentOutput<float> forward(const IndexArray& input,
                                     const std::vector<std::size_t>& lengths) const {
    Var<float> embedded = dropout_(embedding_(input));
    return gru_(embedded, lengths);
  }

 private:
  nn::Embedding<float> embedding_;
  nn::GRU<float> gru_;
  nn::Dropout<float> dropout_{0.1, /*seed=*/1};
};

// What the decoder returns: log-probabilities [B, T, V], its last state, attention [B, T, S].
struct DecoderOutput {
  Var<float> outputs, hidden, attentions;
};

// BahdanauAttention(hidden_size): scores Va(tanh(Wa(query) + Ua(keys))), each an nn.Linear
// with its bias (named query_proj, key_proj and v here).
nn::AttentionOptions bahdanau(std::size_t hidden_size) {
  nn::AttentionOptions options;
  options.score = nn::AttentionScore::additive;
  options.query_size = options.key_size = options.hidden_size = hidden_size;
  options.bias = true;
  return options;
}

class AttnDecoderRNN : public nn::ModuleBase<AttnDecoderRNN> {
 public:
  AttnDecoderRNN(std::size_t hidden_size, std::size_t output_size)
      : embedding_(output_size, hidden_size, pad_token),
        attention_(bahdanau(hidden_size)),
        gru_(nn::RNNOptions(2 * hidden_size, hidden_size).batch_first(true)),
        out_(hidden_size, output_size) {
    register_module("embedding", embedding_);
    register_module("attention", attention_);
    register_module("gru", gru_);
    register_module("out", out_);
    register_module("dropout", dropout_);
  }
  // Teacher forcing when the target [B, T] is given; else its own predictions, max_length steps.
  DecoderOutput forward(const Var<float>& encoder_outputs, const Var<float>& encoder_hidden,
                        const std::vector<std::size_t>& lengths,
                        const std::optional<IndexArray>& target_tensor = std::nullopt) const {
    const nn::AttentionMemory<float> keys =  // Ua(keys) once, not at every step
        attention_.memory(encoder_outputs, encoder_outputs, lengths);
    IndexArray decoder_input = IndexArray::from_shape({encoder_outputs.size(0)});
    decoder_input.fill(sos_token);
    Var<float> decoder_hidden = encoder_hidden;
    std::vector<Var<float>> decoder_outputs, attentions;
    const std::size_t steps = target_tensor ? target_tensor->shape(1) : max_length;
    for (std::size_t i = 0; i < steps; ++i) {
      Var<float> decoder_output, attn_weights;
      std::tie(decoder_output, decoder_hidden, attn_weights) =
          forward_step(decoder_input, decoder_hidden, keys);
      decoder_outputs.push_back(decoder_output);
      attentions.push_back(attn_weights);
      if (target_tensor) {
        decoder_input = xt::view(*target_tensor, xt::all(), i);  // teacher forcing
      } else {
        decoder_input = argmax(decoder_output, -1);  // its own prediction (no gradient)
      }
    }
    return {log_softmax(stack(decoder_outputs, 1), -1), decoder_hidden, stack(attentions, 1)};
  }

  // One step: input [B] -> scores [B, V], hidden [1, B, H], attention weights [B, S]
  std::tuple<Var<float>, Var<float>, Var<float>> forward_step(
      const IndexArray& input, const Var<float>& hidden,
      const nn::AttentionMemory<float>& keys) const {
    Var<float> embedded = dropout_(embedding_(input));
    auto [context, attn_weights] = attention_(select(hidden, 0, 0), keys);
    Var<float> input_gru = unsqueeze(concat({embedded, context}, -1), 1);  // [B, 1, 2H]
    nn::RecurrentOutput<float> gru_out = gru_(input_gru, hidden);
    return {out_(select(gru_out.output, 1, 0)), gru_out.h_n, attn_weights};
  }

 private:
  nn::Embedding<float> embedding_;
  nn::Attention<float> attention_;
  nn::GRU<float> gru_;
  nn::Linear<float> out_;
  nn::Dropout<float> dropout_{0.1, /*seed=*/2};
};

// The ids of a sentence's words and <eos> (tensorFromSentence), padded into [B, S] batches.
const data::EncodeOptions with_eos{false, true};
const data::PadOptions batch_first{data::Layout::batch_major, pad_token, 0};

// The greedy translation of one sentence, up to <eos>, and its attention weights [T, S].
std::pair<Words, Array<float>> evaluate(const EncoderRNN& encoder, const AttnDecoderRNN& decoder,
                                        const Words& sentence, const data::Vocabulary& input_lang,
                                        const data::Vocabulary& output_lang) {
  NoGrad no_grad;
  data::Batch input = data::pad_sequences({input_lang.encode(sentence, with_eos)}, batch_first);
  nn::RecurrentOutput<float> encoded = encoder(input.ids, input.lengths);
  DecoderOutput decoded = decoder(encoded.output, encoded.h_n, input.lengths);
  IndexArray decoded_ids = argmax(decoded.outputs, -1);  // [1, max_length]: topk(1)
  data::DecodeOptions up_to_eos;
  up_to_eos.stop_at_eos = true;
  return {output_lang.decode(xt::view(decoded_ids, 0, xt::all()), up_to_eos),
          xt::view(decoded.attentions.value(), 0, xt::all(), xt::all())};
}

std::string join(const Words& words) {
  std::string text;
  for (const std::string& w : words) text += (text.empty() ? "" : " ") + w;
  return text;
}

int run(int argc, char** argv) {
  const std::size_t epochs = tutorial::parse_args(argc, argv, 20).epochs;
  manual_seed(0);
  Pairs pairs = make_pairs();  // 1500 of the grammar's 3304 sentences, at random
  std::mt19937_64 rng(0);
  std::shuffle(pairs.begin(), pairs.end(), rng);
  pairs.resize(1500);

  // prepareData: the words of each language (accents kept, "n'est" one word), and a held-out
  // tenth of the pairs.
  data::Tokenizer tokenizer;
  std::vector<Words> eng, fra;
  for (const auto& [en, fr] : pairs) {
    eng.push_back(tokenizer(en));
    fra.push_back(tokenizer(fr));
  }
  data::Split split = data::split_indices(pairs.size(), {0.9, 0.0, 0.1, 0});
  data::Vocabulary input_lang = data::Vocabulary::build(data::select(eng, split.train), specials);
  data::Vocabulary output_lang = data::Vocabulary::build(data::select(fra, split.train), specials);
  const auto train_eng = input_lang.encode_all(data::select(eng, split.train), with_eos);
  const auto train_fra = output_lang.encode_all(data::select(fra, split.train), with_eos);
  std::printf("translator: %zu pairs (train %zu, test %zu); %zu English words, %zu French\n",
              pairs.size(), split.train.size(), split.test.size(), input_lang.size(),
              output_lang.size());

  const std::size_t hidden_size = 128;
  EncoderRNN encoder(input_lang.size(), hidden_size);
  AttnDecoderRNN decoder(hidden_size, output_lang.size());
  optim::Adam<float> encoder_optimizer(encoder.parameters());
  optim::Adam<float> decoder_optimizer(decoder.parameters());
  LossOptions criterion;  // nn.NLLLoss(), the padding left out
  criterion.ignore_index = pad_token;
  data::BatchOptions loader;  // DataLoader(batch_size=32, shuffle=True)
  loader.pad = batch_first;
  data::BatchIterator train_dataloader(train_eng, train_fra, loader);  // pairs
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t epoch = 1; epoch <= epochs; ++epoch) {
    double total_loss = 0;
    for (const data::Batch& batch : train_dataloader.epoch()) {
      const IndexArray& target_tensor = batch.target_ids;  // the French, [B, T]
      encoder_optimizer.zero_grad();
      decoder_optimizer.zero_grad();
      nn::RecurrentOutput<float> encoded = encoder(batch.ids, batch.lengths);
      DecoderOutput decoded = decoder(encoded.output, encoded.h_n, batch.lengths, target_tensor);
      Var<float> loss =
          nll_loss(reshape(decoded.outputs, make_shape({target_tensor.size(), output_lang.size()})),
                   IndexArray(xt::flatten(target_tensor)), criterion);
      loss.backward();
      encoder_optimizer.step();
      decoder_optimizer.step();
      total_loss += loss.item();
    }
    if (epoch % 5 == 0 || epoch == 1) {
      std::printf("epoch %2zu/%zu  loss %.4f  (%.1f s)\n", epoch, epochs,
                  total_loss / double(train_dataloader.num_batches()),
                  tutorial::seconds_since(start));
    }
  }
  const double seconds = tutorial::seconds_since(start);

  encoder.eval();
  decoder.eval();
  std::vector<Words> outputs, references;
  for (std::size_t i : split.test) {
    outputs.push_back(evaluate(encoder, decoder, eng[i], input_lang, output_lang).first);
    references.push_back(fra[i]);
  }
  for (std::size_t k = 0; k < 3; ++k) {  // evaluateRandomly
    const std::size_t i = rng() % split.test.size();
    std::printf("\n> %s\n= %s\n< %s\n", join(eng[split.test[i]]).c_str(),
                join(fra[split.test[i]]).c_str(), join(outputs[i]).c_str());
  }
  std::size_t wrong = 0;  // the held-out sentences it gets wrong, the first five of them
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    if (outputs[i] == references[i] || ++wrong > 5) continue;
    std::printf("%s> %s\n= %s\n< %s  (wrong)\n", wrong == 1 ? "\n" : "",
                join(eng[split.test[i]]).c_str(), join(references[i]).c_str(),
                join(outputs[i]).c_str());
  }

  // showAttention, as text: a row per French word, a column per English word.
  const Words sentence = tokenizer("my sisters are not very happy to help.");
  auto [words, attentions] = evaluate(encoder, decoder, sentence, input_lang, output_lang);
  std::printf("\nattention of \"%s\":\n", join(sentence).c_str());
  for (const std::string& w : sentence) std::printf("%7.6s", w.c_str());
  std::printf("  <eos>\n");
  for (std::size_t t = 0; t <= words.size() && t < attentions.shape(0); ++t) {
    for (std::size_t s = 0; s < attentions.shape(1); ++s) std::printf("%7.2f", attentions(t, s));
    std::printf("   %s\n", t < words.size() ? words[t].c_str() : "<eos>");
  }

  std::printf("\ntest: exact match %.4f, BLEU %.2f (%zu sentences); trained in %.1f s\n",
              data::exact_match(outputs, references), data::corpus_bleu(outputs, references).score,
              outputs.size(), seconds);
  return 0;
}

int main(int argc, char** argv) {
  return examples::guarded_main(argc, argv, run);
}
