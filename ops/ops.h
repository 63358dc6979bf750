// Every op, for code that uses many of them (nn/, tests).
#pragma once

#include "ops/activation.h"
#include "ops/attention_ops.h"
#include "ops/elementwise.h"
#include "ops/embedding.h"
#include "ops/entmax.h"
#include "ops/loss.h"
#include "ops/matmul.h"
#include "ops/norm.h"
#include "ops/reduce.h"
#include "ops/scaling.h"
#include "ops/shape.h"
#include "ops/softmax.h"
