"""How training processes are started: accelerate (single GPU, multi-GPU, multi-node,
DeepSpeed / FSDP) and the job files for schedulers (Slurm, SkyPilot)."""
