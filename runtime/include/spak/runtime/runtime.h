// spak/runtime/runtime.h — the whole CPU runtime of generated trainers in one include (C++17, standard library +
// POSIX). CUDA builds add "spak/runtime/cuda_check.h".
#pragma once

#include "spak/runtime/args.h"
#include "spak/runtime/arena.h"
#include "spak/runtime/check.h"
#include "spak/runtime/checkpoint.h"
#include "spak/runtime/data.h"
#include "spak/runtime/io.h"
#include "spak/runtime/json.h"
#include "spak/runtime/log.h"
#include "spak/runtime/rng.h"
#include "spak/runtime/safetensors.h"
