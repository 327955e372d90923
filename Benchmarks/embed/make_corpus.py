#!/usr/bin/env python3
"""Writes sentences.txt: 512 deterministic English sentences, ~42 BERT tokens on average (18-69).

Run once; the output is committed so `twin bench embed` and the peer read the same text.
"""
import random

rng = random.Random(20261129)
subjects = ["The engineer", "A small team", "Our queue worker", "The old library", "My neighbour", "The city council",
            "A curious student", "The research group", "Every scheduler", "The night shift", "The weather service",
            "A retired teacher", "The football club", "Her startup", "The museum guide", "A delivery robot"]
verbs = ["reviewed", "rebuilt", "described", "questioned", "measured", "postponed", "celebrated", "documented",
         "simplified", "translated", "benchmarked", "repaired", "announced", "compared", "published", "tested"]
objects = ["the quarterly report", "a fragile database migration", "the new bicycle lanes", "an unusual bird",
           "the embedding pipeline", "twelve failing tests", "the river festival", "a long-forgotten manuscript",
           "the coffee machine", "a distributed lock", "the winter timetable", "an open-source compiler",
           "the school garden", "a noisy neighbour's complaint", "the vaccine schedule", "a memory leak"]
clauses = ["before the deadline on Friday", "while everyone else was asleep", "after a heated discussion",
           "because the previous attempt had failed twice", "despite the heavy rain", "with surprising patience",
           "using only a spreadsheet and a pencil", "so that visitors could find their way", "in under ten minutes",
           "although nobody had asked for it", "during the annual conference in Lisbon", "for the third time this year",
           "to everyone's relief", "and then wrote a short note about it", "without breaking the build",
           "as the sun set over the harbour"]
tails = ["It was, by all accounts, a success.", "Nobody expected the results to be so clear.",
         "The next step is still being discussed.", "Several people asked for a follow-up.",
         "Latency dropped from 120 ms to 35 ms.", "The logs showed 3,412 warnings, most of them harmless.",
         "Questions? Ask on the mailing list.", "A longer write-up will follow next week."]

def sentence():
    parts = [f"{rng.choice(subjects)} {rng.choice(verbs)} {rng.choice(objects)} {rng.choice(clauses)}"]
    for _ in range(rng.choice([1, 1, 2, 2, 3, 3])):
        parts.append(f"{rng.choice(clauses)}")
    text = ", ".join(parts) + "."
    for _ in range(rng.choice([0, 1, 1, 2, 2])):
        text += " " + rng.choice(tails)
    return text

with open("sentences.txt", "w") as out:
    for _ in range(512):
        out.write(sentence() + "\n")
