"""``python -m dlgtut leak --text ...``: deep leakage of sentences from a language model's gradient.

The private batch is one or more sentences (given on the command line, or taken from the
shipped corpus); the public model is :class:`~dlgtut.text.TinyLM` over the corpus vocabulary;
the attack is :func:`~dlgtut.attacks.gradient.text.text_dlg`. The output folder receives the same
files as the image mode: ``metrics.json``, ``reconstruction.npy`` (recovered token ids, row
``i`` paired with true sentence ``i``), ``reconstruction.png`` (sentences beside the truth),
``progress.png`` (gradient distance per step), and ``reconstruction.txt``.
"""

from __future__ import annotations

import dataclasses

from ..errors import ConfigError
from .common import (
    positive_int,
    prepare_out,
    run_fields,
    save_figure,
    use_agg,
    warn,
    warn_if_failed,
    write_metrics,
)

__all__ = ["add_options", "run"]

# Options of the image mode that mean nothing for text. They all default to None or False
# except --size, whose default is the image mode's (so text mode compares with it).
_IMAGE_ONLY = ("image", "label", "dataset", "size", "channels", "data_dir", "model",
               "num_classes", "local_steps", "local_lr", "tv", "paper", "labels", "init",
               "optimizer", "snapshot_every", "bins", "participants", "statistic",
               "public_data")


def add_options(parser) -> None:
    """The text mode's options of ``leak``."""
    g = parser.add_argument_group(
        "text mode (instead of images)",
        "attack a tiny transformer language model trained on next-token prediction; "
        "--index, --batch-size, --iterations, --distance, --stop-distance, --restarts and "
        "--seed apply too",
    )
    g.add_argument("--text", nargs="*", metavar="SENTENCE",
                   help="the private sentences (words outside the corpus vocabulary become "
                   "<unk>); with no sentence, --batch-size sentences of the shipped corpus "
                   "(Pride and Prejudice, ch. 1) from --index")
    g.add_argument("--length", type=positive_int("--length", 10_000), default=None,
                   metavar="T",
                   help="cut every sentence to its first T tokens (default: the shortest's "
                   "length, at most 33, the model's context plus one)")
    g.add_argument("--unknowns", choices=("tokens", "embeddings"), default=None,
                   help="optimise token distributions (default) or free embeddings")
    g.add_argument("--no-refine", action="store_true",
                   help="skip the discrete repair of the recovered tokens")


def _check(args, size_default: int) -> None:
    defaults = {"size": size_default}
    given = [
        f"--{name.replace('_', '-')}" for name in _IMAGE_ONLY
        if getattr(args, name) not in (defaults.get(name), None, False)
    ]
    if given:
        verb = "applies" if len(given) == 1 else "apply"
        raise ConfigError(f"{', '.join(given)} {verb} to images, not --text")
    if args.attack != "dlg":
        raise ConfigError(f"--attack {args.attack} is for images; text uses dlg")
    if args.length is not None and args.length < 2:
        raise ConfigError(f"--length must be at least 2 (one next-token prediction), got "
                          f"{args.length}")


def _sentences(args, vocab) -> tuple[list[str], dict]:
    from ..text import corpus_sentences

    if args.text:
        if args.index is not None or args.batch_size is not None:
            raise ConfigError("--index and --batch-size pick corpus sentences; not with "
                              "sentences given after --text")
        return list(args.text), {"sentences": "command line"}
    corpus = corpus_sentences(min_tokens=2)
    index, n = args.index or 0, args.batch_size or 1
    if not 0 <= index < len(corpus):
        raise ConfigError(f"--index must lie in [0, {len(corpus) - 1}] for the corpus's "
                          f"{len(corpus)} sentences")
    if index + n > len(corpus):
        raise ConfigError(f"--index {index} with --batch-size {n} runs past the corpus's "
                          f"{len(corpus)} sentences")
    return corpus[index : index + n], {
        "sentences": "corpus", "indices": list(range(index, index + n))}


def run(args, size_default: int = 32) -> int:
    """Run the text mode of ``leak``; return the exit status."""
    _check(args, size_default)
    import numpy as np
    import torch

    from ..attacks.gradient import TextDLGConfig, sentence_assignment, text_dlg, token_accuracy
    from ..text import TextBatch, TextParticipant, TinyLM, default_vocabulary

    vocab = default_vocabulary()
    sentences, source = _sentences(args, vocab)
    if any(not s.strip() for s in sentences):
        raise ConfigError("a sentence after --text is empty")
    lengths = [len(vocab.encode(s)) for s in sentences]
    model = TinyLM(len(vocab), seed=args.seed).to(args.device)  # weights drawn on the CPU
    length = args.length if args.length is not None else min(min(lengths), model.context + 1)
    batch = TextBatch.from_sentences(vocab, sentences, length=length)
    unknown = int((batch.ids == vocab.unk).sum())
    update = TextParticipant(model, vocab).fedsgd(batch)

    changes = {"unknowns": args.unknowns or "tokens", "refine": not args.no_refine,
               "progress": not args.quiet, "seed": args.seed}
    for name in ("iterations", "distance", "stop_distance", "restarts"):
        if getattr(args, name) is not None:
            changes[name] = getattr(args, name)
    config = TextDLGConfig(**changes)
    out = prepare_out(args.out)
    rec = text_dlg(update, config)

    perm = sentence_assignment(rec.tokens, batch)
    tokens = rec.tokens[perm]
    truth_text = batch.sentences(vocab)
    recovered_text = [rec.text[i] for i in perm.tolist()]
    exact = [bool(torch.equal(a, b)) for a, b in zip(tokens, batch.ids, strict=True)]
    acc = token_accuracy(rec.tokens, batch)
    np.save(out / "reconstruction.npy", tokens.cpu().numpy())
    write_metrics(out, {
        "mode": "text",
        "token_accuracy": acc,
        "token_accuracy_whole_vocabulary": token_accuracy(rec.tokens_any, batch),
        "exact_sentences": sum(exact),
        "batch_size": len(batch),
        "sentence_length": length,
        "unknown_tokens": unknown,
        "true_sentences": truth_text,
        "recovered_sentences": recovered_text,
        **run_fields(rec),
        "bag_of_words": [vocab.itos[i] for i in rec.bag.tolist()],
        "attack": "dlg",
        "model": "tinylm",
        "vocabulary_size": len(vocab),
        "seed": args.seed,
        "input": source,
        "config": dataclasses.asdict(config),
    }, device=args.device)
    lines = []
    for i, (t, r, ok) in enumerate(zip(truth_text, recovered_text, exact, strict=True)):
        lines += [f"sentence {i + 1} ({'exact' if ok else 'differs'})",
                  f"  truth:     {t}", f"  recovered: {r}"]
    (out / "reconstruction.txt").write_text("\n".join(lines) + "\n")

    use_agg()
    from ..viz.text import plot_distances, plot_sentences

    save_figure(plot_sentences(batch.ids, tokens, vocab), out / "reconstruction.png")
    save_figure(plot_distances(rec.distances or [rec.distance]), out / "progress.png")

    print(
        f"{rec.status}: {len(batch)} sentence(s) of {length} tokens in {rec.iterations} steps "
        f"({rec.seconds:.1f} s); token accuracy {acc:.1%}, {sum(exact)} of {len(batch)} "
        f"sentences exact. Outputs in {out}"
    )
    if unknown:
        warn(f"{unknown} token(s) outside the corpus vocabulary became <unk>")
    warn_if_failed(rec)
    return 0
