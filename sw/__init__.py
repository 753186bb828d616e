"""Host software: models and training, compiler, golden model, runtime, cost model."""
