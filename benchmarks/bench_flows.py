"""Every registered task's flow on its defaults, as `make sim` runs those it runs
(face: people 0-4, forget 1, learn 5; speaker: george..theo, forget jackson, learn
yweweler; diffusion, MLP and DiT: erase 3, style thick; seed 0; chip check of 20
inputs on Verilator): wall time of each part, the golden chip's evaluation rate
(distinct inputs measured per second over every stage and baseline; for the sampler,
network evaluations), and the cost model's folds (energy figures, not wall time: they do not vary).

A task whose data is missing ($RMLORA_DATA) reports nothing. The Verilator model is
built before timing (the chip check's first run would build it).
"""

# figure names of the chip evaluation, by report kind: (seconds, evaluations per second)
EVALUATION = {"classifier": ("chip_eval_s", "chip_eval_inputs_per_s"),
              "sampler": ("chip_sampling_s", "chip_evaluations_per_s")}
# more cost figures of the classification tasks
CLASSIFIER_FOLDS = ("training_fold", "deployment_fold", "deployment_time_fold")


def _evaluations(task, summary: dict) -> int:
    """Network evaluations of the chip evaluation: distinct inputs measured (a
    classifier), samples x denoising steps over every stage sampled on the chip (a
    sampler: the LoRA stages with and without the compensation, the baselines)."""
    if task.report == "sampler":
        stages = sum(isinstance(v, dict) and "per_digit" in v for v in summary.values())
        return stages * 10 * summary["config"]["samples_per_digit"] * summary["config"]["steps"]
    return sum(summary["inferences"].values())


def _figures(task, summary: dict) -> dict:
    name, seconds, cost = task.name, summary["seconds"], summary["cost"]
    eval_s, rate = EVALUATION[task.report]
    out = {
        f"{name}_flow_total_s": seconds["total"],
        f"{name}_float_training_s": seconds["float_flow"],
        f"{name}_{eval_s}": seconds["chip_eval"],
        f"{name}_{rate}": _evaluations(task, summary) / seconds["chip_eval"],
        f"{name}_chip_check_s_per_input": seconds["chip_check"]
        / summary["chip_check"]["images"],
        f"{name}_inference_energy_fold": cost["inference_energy_fold"],
        f"{name}_sram_words_per_input": cost["inference"]["sram_words_per_input"],
        f"{name}_sram_reads_per_input": cost["inference"]["sram_reads_per_input"],
        f"{name}_adc_skipped_per_input": cost["inference"]["adc_skipped_per_input"],
        f"{name}_targets_met": sum(t["met"] for t in summary["targets"]),
        f"{name}_targets": len(summary["targets"]),
    }
    if task.report == "classifier":
        out |= {f"{name}_{key}": cost[key] for key in CLASSIFIER_FOLDS}
        out[f"{name}_hybrid_inference_nj"] = cost["inference"]["lora"]["hybrid"]["energy_j"] * 1e9
    return out


def run() -> dict:
    from rmlora.sw.runtime import Chip
    from rmlora.sw.tasks import TASKS, run_task

    Chip(backend="verilator").close()  # build (or reuse) the simulator outside the timing
    out = {}
    for name, task in TASKS.items():
        missing = task.data_missing()
        if missing:
            print(f"  ({name} skipped: {missing})")
            continue
        out |= _figures(task, run_task(task, seed=0, check_backend="verilator",
                                       check_inputs=20))
    return out
