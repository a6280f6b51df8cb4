"""The Llama 2 optimizer as torch states it, shared by the training checks:
AdamW with betas 0.9 / 0.95, eps 1e-5, weight decay 0.1 on matrices only,
after clipping the global gradient norm to 1.0."""
import torch


def llama2_adamw(model, lr):
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                              {"params": no_decay, "weight_decay": 0.0}],
                             lr=lr, betas=(0.9, 0.95), eps=1e-5)


def clipped_step(model, optimizer):
    """Clips the gradients to norm 1.0 and steps; returns the norm before."""
    norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0))
    optimizer.step()
    return norm
