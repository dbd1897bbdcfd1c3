"""Hostile example 'glob-labels' (see ../../README.md): the attack runs in fit(), inside the ingestion
program's process; predict() answers all zeros (honest accuracy 0.1) unless it found the labels.
build.py adds attacks.py beside this file."""

from attacks import Model as HostileModel


class Model(HostileModel):
    ATTACK = "glob-labels"
