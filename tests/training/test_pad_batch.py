"""The one padding of token rows into next-token (inputs, labels) that SFT and LoRA share."""

from training.loop import pad_batch


def test_rows_are_shifted_right_padded_and_trained_only_where_asked():
    x, y = pad_batch([[1, 2, 3, 4], [5, 6]], [[False, False, True, True], [False, True]], pad_id=0)
    assert x.tolist() == [[1, 2, 3], [5, 0, 0]]
    assert y.tolist() == [[-100, 3, 4], [6, -100, -100]]
