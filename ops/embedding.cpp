#include "ops/embedding.h"

#include <algorithm>

#include "autograd/tape.h"
#include "core/parallel.h"
#include "core/error.h"

namespace entlab {

namespace {

// Forward: out[b,t,:] = table[ids[b,t], :].  Backward: dtable[ids[b,t], :] += g[b,t,:].
// Serial over tokens because two tokens with the same id write the same row.
void embedding_backward(Node& node) {
  const float* dout = output_grad(node);
  float* dtable = input_grad(node, 0);
  const int64_t channels = node.inputs[0].size(1);
  const std::vector<int64_t>& ids = node.int_args;
  for (size_t token = 0; token < ids.size(); ++token) {
    const float* g_row = dout + static_cast<int64_t>(token) * channels;
    float* d_row = dtable + ids[token] * channels;
    for (int64_t c = 0; c < channels; ++c) d_row[c] += g_row[c];
  }
}

}  // namespace

Tensor embedding(const Tensor& table, const std::vector<int32_t>& ids, int64_t batch, int64_t time) {
  ENTLAB_CHECK(table.dim() == 2 && table.is_contiguous(), "embedding: table ", table.label(),
               " must be a contiguous (V, C) matrix, got ", shape_str(table.shape()));
  ENTLAB_CHECK(static_cast<int64_t>(ids.size()) == batch * time, "embedding: got ", ids.size(),
               " ids for a (", batch, ", ", time, ") batch");
  const int64_t vocab = table.size(0);
  const int64_t channels = table.size(1);
  for (int32_t id : ids)
    ENTLAB_CHECK(id >= 0 && id < vocab, "embedding: token id ", id, " is outside the vocabulary [0, ",
                 vocab, ") of table ", table.label());

  Tensor out = Tensor::empty({batch, time, channels});
  const float* rows = table.data();
  float* y = out.data();
#pragma omp parallel for schedule(static) if (batch * time * channels > kParallelMinWork)
  for (int64_t token = 0; token < batch * time; ++token)
    std::copy_n(rows + ids[token] * channels, channels, y + token * channels);

  if (any_requires_grad({table})) {
    Node& node = record_op(OpKind::Embedding, embedding_backward, {table}, out);
    node.int_args.assign(ids.begin(), ids.end());
  }
  return out;
}

}  // namespace entlab
