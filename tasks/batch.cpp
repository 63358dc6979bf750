#include "tasks/batch.h"

#include <algorithm>

#include "core/error.h"

namespace entlab::tasks {

std::vector<int32_t> layout_sequence(const Sample& sample, const TokenLayout& layout) {
  std::vector<int32_t> sequence;
  sequence.reserve(sample.source.size() + sample.target.size() + 3);
  sequence.push_back(layout.bos());
  sequence.insert(sequence.end(), sample.source.begin(), sample.source.end());
  sequence.push_back(layout.sep());
  sequence.insert(sequence.end(), sample.target.begin(), sample.target.end());
  sequence.push_back(layout.eos());
  return sequence;
}

Batch make_batch(const std::vector<Sample>& samples, const TokenLayout& layout) {
  ENTLAB_CHECK(!samples.empty(), "make_batch: no samples");
  Batch batch;
  batch.batch = static_cast<int64_t>(samples.size());
  for (const Sample& sample : samples)
    batch.time = std::max<int64_t>(batch.time, static_cast<int64_t>(sample.source.size() + sample.target.size()) + 2);

  batch.inputs.assign(static_cast<size_t>(batch.batch * batch.time), layout.pad());
  batch.labels.assign(static_cast<size_t>(batch.batch * batch.time), kIgnoreLabel);
  for (int64_t b = 0; b < batch.batch; ++b) {
    const Sample& sample = samples[b];
    std::vector<int32_t> sequence = layout_sequence(sample, layout);
    // Inputs are the sequence without its last token (EOS is never an input).
    const int64_t input_length = static_cast<int64_t>(sequence.size()) - 1;
    std::copy_n(sequence.begin(), input_length, batch.inputs.begin() + b * batch.time);
    batch.tokens += input_length;

    // Position t predicts sequence[t + 1]; target token k sits at sequence index
    // |source| + 2 + k, so it is predicted from position |source| + 1 + k.
    const int64_t start = static_cast<int64_t>(sample.source.size()) + 1;
    const int64_t count = static_cast<int64_t>(sample.target.size());
    for (int64_t k = 0; k < count; ++k) batch.labels[b * batch.time + start + k] = sample.target[k];
    batch.target_start.push_back(start);
    batch.target_length.push_back(count);
  }
  return batch;
}

}  // namespace entlab::tasks
