"""YAML loading with bounds: alias expansion, nesting, and the construction errors that PyYAML
lets escape as other exceptions.

PyYAML builds an alias as a reference to the anchored object, so ``yaml.load`` of a "billion
laughs" document is quick; whatever then walks the result as a tree (``json.dumps``, ``==``, a
scan for NaN) visits every expansion and never ends. The workers do that walk (the v2 worker
POSTs the scores as JSON, §5.9), so on a platform such a file hangs the submission until a time
limit. Here the composed node graph is measured first: a document whose aliases add more than
:data:`MAX_ALIAS_EXPANSION` nodes (or refer to themselves) is refused with :class:`YAMLBoundError`.
A document without aliases, or with the few that bundles use for leaderboards (§2.5), is read as
the worker reads it.

Construction failures that are not ``yaml.YAMLError`` (an integer over Python's 4,300-digit
limit, a date out of range, an empty ``!!int``, nesting deeper than the recursion limit) become
:class:`YAMLBoundError` too, so each caller handles one family: ``yaml.YAMLError``.
"""

from __future__ import annotations

from typing import Any, Final

import yaml

from ._errors import CompatError

MAX_ALIAS_EXPANSION: Final = 100_000


class YAMLBoundError(CompatError, yaml.YAMLError):
    """A YAML document this model refuses to build: too many alias expansions, a self-reference,
    or a value PyYAML cannot construct (the message says which)."""

    def __init__(self, problem: str) -> None:
        self.problem = problem
        super().__init__(problem)


def load(text: str | bytes, loader_class: Any, *, max_expansion: int = MAX_ALIAS_EXPANSION) -> Any:
    """``yaml.load(text, Loader=loader_class)``, refusing alias bombs before building anything.
    Raises only ``yaml.YAMLError`` (:class:`YAMLBoundError` for the bounds)."""
    loader = loader_class(text)
    try:
        node = compose(loader)
        return construct(loader, node, max_expansion=max_expansion)
    finally:
        loader.dispose()


def compose(loader: Any) -> Any:
    """The single document's node graph (``None`` when empty); raises only ``yaml.YAMLError``."""
    try:
        return loader.get_single_node()
    except RecursionError:
        raise YAMLBoundError("the YAML nests deeper than Python's recursion limit") from None


def construct(loader: Any, node: Any, *, max_expansion: int = MAX_ALIAS_EXPANSION) -> Any:
    """The document built from ``node`` after :func:`check_aliases`; raises only ``yaml.YAMLError``."""
    if node is None:
        return None
    check_aliases(node, max_expansion)
    try:
        return loader.construct_document(node)
    except RecursionError:
        raise YAMLBoundError("the YAML nests deeper than Python's recursion limit") from None
    except yaml.YAMLError:
        raise
    except Exception as error:  # noqa: BLE001 - PyYAML's constructors let the document's faults escape as
        # ValueError (int() digit limit, dates), IndexError ('!!int' of nothing), TypeError, OverflowError...
        raise YAMLBoundError(f"a value cannot be built: {type(error).__name__}: {error}") from None


def check_aliases(root: yaml.Node, limit: int = MAX_ALIAS_EXPANSION) -> None:
    """Refuse a node graph whose tree, with every alias expanded, has more than ``limit`` nodes
    beyond the graph's own, or a cycle. Linear in the graph's size."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    open_nodes: set[int] = set()
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            open_nodes.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            if sizes[key] - len(sizes) > limit:
                raise YAMLBoundError(f"its aliases expand to more than {limit:,} extra values (a 'billion laughs' "
                                     "document): a worker walking it would run out of time or memory")
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            raise YAMLBoundError("an alias refers to a collection that contains it (a recursive structure): it "
                                 "never ends when expanded")
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


class PlainDataLoader(yaml.SafeLoader):
    """SafeLoader plus the ``!!python/`` tags that FullLoader turns into plain data (str, int, float,
    bool, none, bytes, complex, list, tuple, dict); other ``!!python/`` tags are refused with a
    ``ConstructorError``, never evaluated."""


def _python_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        scalars: dict[str, Any] = {
            "none": loader.construct_yaml_null, "bool": loader.construct_yaml_bool,
            "str": loader.construct_scalar, "unicode": loader.construct_scalar,
            "bytes": loader.construct_yaml_binary, "int": loader.construct_yaml_int,
            "long": loader.construct_yaml_int, "float": loader.construct_yaml_float,
            "complex": lambda n: complex(loader.construct_scalar(n)),
        }
        if suffix in scalars:
            return scalars[suffix](node)
    elif isinstance(node, yaml.SequenceNode) and suffix in ("list", "tuple"):
        items = loader.construct_sequence(node, deep=True)
        return tuple(items) if suffix == "tuple" else items
    elif isinstance(node, yaml.MappingNode) and suffix == "dict":
        return loader.construct_mapping(node, deep=True)
    raise yaml.constructor.ConstructorError(
        None, None, f"!!python/{suffix} would build a Python object; it is not evaluated here", node.start_mark)


PlainDataLoader.add_multi_constructor("tag:yaml.org,2002:python/", _python_tag)
