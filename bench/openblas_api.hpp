// OpenBLAS's own functions, declared for the LibTorch binaries (rnn_torch, seq2seq_torch): no
// header of OpenBLAS is included next to LibTorch's. Debian's LibTorch calls sgemm_ through
// libblas.so.3, which is OpenBLAS here, and torch::set_num_threads does not set its threads.
#pragma once

extern "C" {
void openblas_set_num_threads(int threads);
int openblas_get_num_threads();
char* openblas_get_config();
char* openblas_get_corename();
}
