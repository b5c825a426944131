"""charts/hack/generate.py: what it infers from a values file, how `# @schema` blocks and `$ref`
fragments apply, and the annotation mistakes it refuses."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.charts import chartlib

generate = chartlib.hack("generate")


def schema_of(tmp_path: Path, values: str, fragments: str = "") -> dict:
    (tmp_path / "fragments.yaml").write_text(textwrap.dedent(fragments))
    path = tmp_path / "values.yaml"
    path.write_text(textwrap.dedent(values))
    schema = generate.Builder(generate.read(path), generate.Refs()).root()
    generate.check_keywords(schema, str(path))
    return schema


def test_types_closed_objects_and_required_keys_come_from_the_defaults(tmp_path):
    schema = schema_of(
        tmp_path,
        """
        image:
          ## @param image.tag The tag
          tag: "1.0"
          ## @param image.pullPolicy The policy
          pullPolicy: Always
        ## @param replicas Pods
        replicas: 2
        ## @param ratio A share
        ratio: 0.5
        ## @param on A switch
        on: false
        ## @param labels Extra labels
        labels: {}
        ## @param namespaces Who may call
        namespaces: [monitoring]
        """,
    )
    props = schema["properties"]
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["image", "replicas", "ratio", "on", "labels", "namespaces"]
    assert props["image"]["additionalProperties"] is False
    assert props["image"]["required"] == ["tag", "pullPolicy"]
    assert props["image"]["properties"]["tag"] == {"description": "The tag", "type": "string"}
    assert [props[k]["type"] for k in ("replicas", "ratio", "on")] == [
        "integer",
        "number",
        "boolean",
    ]
    assert props["labels"] == {"description": "Extra labels", "type": "object"}  # open
    assert props["namespaces"]["items"] == {"type": "string"}


def test_blocks_add_keywords_and_fragments_constrain_only_the_keys_a_map_has(tmp_path):
    schema = schema_of(
        tmp_path,
        """
        # @schema
        # $ref: fragments.yaml#/image
        # @schema
        image:
          ## @param image.tag The tag
          tag: ""
        # @schema
        # $ref: fragments.yaml#/port
        # maximum: 9999
        # @schema
        ## @param port The port
        port: 8080
        # @schema
        # additionalProperties: {type: string}
        # @schema
        selector:
          # @schema
          # required: false
          # @schema
          ## @param selector.app The app label
          app: web
        """,
        fragments="""
        image:
          properties:
            tag: {type: [string, number]}
            pullPolicy: {enum: [Always, Never]}
        port: {minimum: 1, maximum: 65535}
        """,
    )
    image = schema["properties"]["image"]
    assert image["properties"] == {"tag": {"description": "The tag", "type": ["string", "number"]}}
    port = schema["properties"]["port"]
    assert (port["type"], port["minimum"], port["maximum"]) == ("integer", 1, 9999)
    selector = schema["properties"]["selector"]
    assert selector["additionalProperties"] == {"type": "string"}
    assert "required" not in selector


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ("# @schema\n# minimum: 1\n# @schema\n\n## @param a A value\na: 1\n", "right above a key"),
        ("# @schema\n# minimum: 1\n## @param a A value\na: 1\n", "without its closing line"),
        ("# @schema\n# description: x\n# @schema\n## @param a A value\na: 1\n", "@param line"),
        ("## @param a A list\na: []\n", "give its `items`"),
        ("a: 1\n", "no `## @param` line"),
        ("# @schema\n# minimun: 1\n# @schema\n## @param a A value\na: 1\n", "keywords"),
        ("# @schema\n# $ref: fragments.yaml#/nope\n# @schema\n## @param a A\na: 1\n", "nothing"),
        (
            "# @schema\n# properties: {b: {minimum: 1}}\n# @schema\nm:\n  ## @param m.c C value\n"
            "  c: 1\n",
            "does not have",
        ),
    ],
    ids=[
        "block-not-above-a-key",
        "block-not-closed",
        "described-twice",
        "empty-list-without-items",
        "leaf-without-param",
        "misspelt-keyword",
        "ref-to-nothing",
        "block-names-a-missing-key",
    ],
)
def test_annotation_mistakes_are_refused_with_their_place(tmp_path, values, message):
    with pytest.raises(generate.AnnotationError, match=message):
        schema_of(tmp_path, values)
