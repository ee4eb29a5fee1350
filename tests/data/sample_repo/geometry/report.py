"""Print a small report of shapes."""

from geometry.shapes import Circle, Rectangle


def total_area(shapes) -> float:
    return sum(shape.area() for shape in shapes)


def main() -> None:
    shapes = [Circle(1.0), Rectangle(2.0, 3.0)]
    print(f"total area: {total_area(shapes):.2f}")


if __name__ == "__main__":
    main()
