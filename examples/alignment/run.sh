#!/usr/bin/env bash
# The Llama 2 alignment recipe, part 1, end to end on a model small enough
# for two cores (run scripts/build.sh first; minutes):
#   1. a policy pretrained by llama-train on fortunes (Debian's `fortunes`
#      package), kept at its lowest validation loss;
#   2. pairs of samples per prompt, rated by an oracle only this script knows (how
#      many distinct words of a set a response uses) on the paper's four
#      levels; a reward model trained on them with the small margins;
#   3. best-of-K on held-out prompts, K = 1 .. 16, picked by the reward model
#      and judged by the oracle;
#   4. one round of rejection-sampling fine-tuning (best of 8 per prompt,
#      prompt masked out of the loss) and the policy's oracle score at K = 1;
#   5. PPO from the policy on the reward model's score with a KL penalty,
#      against the KL-regularised optimum estimated from many samples, and
#      without the penalty (beta = 0), where the reward model is hacked.
# Writes everything under WORK (default build/alignment-demo), with the
# plots alignment.png and ppo.png.
set -euo pipefail
# PPO (step 5): the KL penalty, the smallest whose optimum is estimated from
# an effective 50+ of the 256 samples per prompt; the learning rates of the
# run with it and of the run without it (beta = 0, 10x: to reach the reward
# model's blind spots within the iterations); the iterations of each.
beta=1.5
ppo_lr=1e-4
hacking_lr=1e-3
ppo_iterations=40
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(realpath -m "${1:-$root/build/alignment-demo}")
bin=$root/build/bin
demo="python3 $root/examples/alignment/demo.py"
tok=$work/tokenizer.model
mkdir -p "$work"
cd "$work"
step() { echo "== $1 ($SECONDS s)"; }

step "corpus: Debian's fortunes"
if [ ! -d fortunes ]; then
  apt-get download fortunes fortunes-min > /dev/null
  for deb in fortunes*.deb; do dpkg-deb -x "$deb" fortunes; done
  rm -f fortunes*.deb
fi
$demo corpus fortunes/usr/share/games/fortunes "$work"
spm_train --input=corpus.txt --model_prefix=tokenizer --model_type=bpe \
  --vocab_size=512 --split_digits=true --byte_fallback=true \
  --character_coverage=1.0 --unk_id=0 --bos_id=1 --eos_id=2 --pad_id=-1 \
  --minloglevel=2
# llama2.c's stories260K shape: dim 64, 5 layers, 8 heads, 4 key/value heads.
cat > policy.json <<'EOF'
{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu",
 "hidden_size": 64, "intermediate_size": 172, "num_hidden_layers": 5,
 "num_attention_heads": 8, "num_key_value_heads": 4, "vocab_size": 512,
 "max_position_embeddings": 128, "rms_norm_eps": 1e-05, "rope_theta": 10000.0,
 "tie_word_embeddings": true, "torch_dtype": "float32"}
EOF

step "1. pretraining the policy (validation loss every 100 steps)"
$bin/llamac policy.json --train --batch 16 --seq 64 -o policy-train.so
$bin/llamac policy.json -o policy.so
# (Delete WORK/pretrain to pretrain again.)
[ -f pretrain/model.safetensors ] ||
  $bin/llama-train policy-train.so --init-random 0 --data corpus.txt --tokenizer "$tok" \
    --val-split 0.05 --steps 1500 --lr 5e-3 --warmup 100 --eval-every 100 \
    --save-every 100 --out pretrain 2> pretrain.log
# The checkpoint at the lowest validation loss is the policy.
best=$(python3 -c "import csv; r = [x for x in csv.DictReader(open('pretrain/loss.csv')) if x['val_loss']]; print(min(r, key=lambda x: float(x['val_loss']))['step'])")
policy=pretrain/checkpoint-$best
[ -d "$policy" ] || policy=pretrain
echo "policy: step $best of 1500 ($(grep "step $best: validation" pretrain.log))"

step "2. rated pairs and the reward model"
$bin/llama-rejection-sampling policy.so --policy-weights "$policy" --tokenizer "$tok" \
  --prompts pair-prompts.jsonl -k 4 --max-new-tokens 48 --seed 1 --samples-out pair-samples.jsonl
$demo pairs pair-samples.jsonl "$work"
$bin/llamac policy.json --reward --train --batch 16 --seq 64 -o rm-train.so
$bin/llamac policy.json --reward --batch 16 --seq 64 -o rm.so
$bin/llama-reward train rm-train.so --weights "$policy" --data pairs-train.jsonl \
  --val-data pairs-heldout.jsonl --tokenizer "$tok" --margin small --epochs 2 \
  --lr 2e-3 --eval-every 50 --out rm 2> rm.log
grep "held-out accuracy" rm.log | tail -1
$bin/llama-reward score rm.so --weights rm --tokenizer "$tok" --data pairs-heldout.jsonl \
  > rm-heldout-scores.jsonl 2> /dev/null
$demo rm-accuracy pairs-heldout.jsonl rm-heldout-scores.jsonl

step "3. best-of-K on held-out prompts"
$bin/llama-rejection-sampling policy.so --policy-weights "$policy" --reward rm.so \
  --reward-weights rm --tokenizer "$tok" --prompts heldout-prompts.jsonl -k 16 \
  --max-new-tokens 48 --seed 2 --out heldout-best.jsonl --samples-out heldout-samples.jsonl

step "4. rejection sampling: best of 8, fine-tuned on, sampled again"
$bin/llama-rejection-sampling policy.so --policy-weights "$policy" --reward rm.so \
  --reward-weights rm --tokenizer "$tok" --prompts rs-prompts.jsonl -k 8 \
  --max-new-tokens 48 --seed 3 --out rs-best.jsonl
$bin/llama-train policy-train.so --weights "$policy" --data rs-best.jsonl --tokenizer "$tok" \
  --epochs 3 --lr 1e-3 --warmup 5 --out rs-policy 2> rs-train.log
$bin/llama-rejection-sampling policy.so --policy-weights rs-policy --tokenizer "$tok" \
  --prompts heldout-prompts.jsonl -k 16 --max-new-tokens 48 --seed 2 \
  --samples-out rs-heldout-samples.jsonl
$demo best-of-k heldout-samples.jsonl rs-heldout-samples.jsonl | tee results.txt

step "5. PPO: the reward model's score with a KL penalty to the policy (beta $beta), and beta = 0"
# Held-out prompts: 64, each sampled 8 times at every evaluation.
head -64 heldout-prompts.jsonl > ppo-heldout-prompts.jsonl
for i in 1 2 3 4 5 6 7 8; do cat ppo-heldout-prompts.jsonl; done > ppo-eval-prompts.jsonl
# The KL-regularised optimum, estimated from 256 samples of the policy per
# held-out prompt reweighted by exp(score / beta).
$bin/llama-rejection-sampling policy.so --policy-weights "$policy" --reward rm.so \
  --reward-weights rm --tokenizer "$tok" --prompts ppo-heldout-prompts.jsonl -k 256 \
  --max-new-tokens 48 --seed 4 --out optimum-best.jsonl --samples-out optimum-samples.jsonl
$demo optimum optimum-samples.jsonl $beta | tee optimum.txt
$bin/llamac policy.json --ppo policy --batch 16 --seq 63 -o ppo-policy.so
$bin/llamac policy.json --ppo value --batch 16 --seq 63 -o ppo-value.so
# The raw score (no whitening): a stationary reward, whose optimum is the one
# estimated above. The value model starts from the reward model.
for b in $beta 0; do
  lr=$ppo_lr
  [ "$b" = 0 ] && lr=$hacking_lr
  $bin/llama-ppo ppo-policy.so --policy-weights "$policy" --value ppo-value.so \
    --reward rm.so --reward-weights rm --tokenizer "$tok" --prompts rs-prompts.jsonl \
    --eval-prompts ppo-eval-prompts.jsonl --eval-every 5 --rollout 64 --epochs 2 \
    --iterations $ppo_iterations --beta $b --lr $lr --no-whiten-scores \
    --max-new-tokens 48 --out ppo-beta$b 2> ppo-beta$b.log
  if [ "$b" = 0 ]; then
    $demo ppo-report ppo-beta$b | tee -a results.txt
  else
    $demo ppo-report ppo-beta$b optimum.json $beta | tee -a results.txt
  fi
done

step "plot"
gnuplot <<EOF
set terminal pngcairo size 1100,420
set output '$work/alignment.png'
set multiplot layout 1,2
set title 'reward model: held-out accuracy by rating'
set style fill solid 0.6
set boxwidth 0.7
set yrange [0:1]
set grid ytics
plot '$work/rm-heldout-scores-accuracy.dat' using 0:2:xtic(1) with boxes notitle
set title 'best of K on held-out prompts (oracle score)'
set logscale x 2
set xrange [0.8:20]
set yrange [*:*]
set xlabel 'K'
set key left top
plot '$work/heldout-samples-best-of-k.dat' using 1:2 with linespoints lw 2 pt 7 title 'reward model pick', \
     '' using 1:3 with linespoints lw 2 title 'random pick', \
     '' using 1:4 with linespoints lw 2 dt 2 title 'oracle pick (ceiling)', \
     $(python3 -c "import json; r=[json.loads(l) for l in open('$work/rs-heldout-samples.jsonl')]; import sys; sys.path.insert(0,'$root/examples/alignment'); import demo; print(sum(demo.oracle(x['response']) for x in r)/len(r))") with lines lw 2 lc rgb 'black' title 'after rejection sampling, K = 1'
unset multiplot
set output '$work/ppo.png'
set multiplot layout 1,2
unset logscale x
set xrange [*:*]
set yrange [*:*]
set xlabel 'PPO iteration'
set key right bottom
set title 'PPO, beta $beta: held-out samples'
set ylabel 'oracle score / reward-model score'
set y2label 'KL to the initial policy (nats)'
set ytics nomirror
set y2tics
plot '$work/ppo-beta$beta/eval.dat' using 1:2 with linespoints lw 2 pt 7 title 'oracle', \
     '' using 1:3 with linespoints lw 2 title 'reward-model score', \
     '' using 1:4 axes x1y2 with linespoints lw 2 dt 2 title 'KL', \
     $(python3 -c "import json; o = json.load(open('$work/optimum.json')); print(o[str(float('$beta'))]['oracle'])") with lines lc rgb 'black' title 'oracle of the optimum'
set title 'beta = 0: reward hacking'
plot '$work/ppo-beta0/eval.dat' using 1:2 with linespoints lw 2 pt 7 title 'oracle', \
     '' using 1:3 with linespoints lw 2 title 'reward-model score', \
     '' using 1:4 axes x1y2 with linespoints lw 2 dt 2 title 'KL'
unset multiplot
EOF
step "done: $work/alignment.png, $work/ppo.png"
