// Vietnamese texts of the conversation layer (outside any questionnaire).
export const RUNNER_MSG = {
  howToStart:
    'Xin chào! Đây là kênh khảo sát sự hài lòng về giải quyết thủ tục hành chính của Công an tỉnh. ' +
    'Để tham gia, ông/bà vui lòng quét mã QR hoặc gõ mã khảo sát (8 ký tự) in trên phiếu hẹn trả kết quả.',
  unknownCode: 'Mã khảo sát không đúng. Xin vui lòng kiểm tra lại mã in trên phiếu (8 ký tự, không phân biệt chữ hoa, chữ thường).',
  notACode:
    'Mã này không phải là mã khảo sát. Mã khảo sát gồm 8 ký tự (chữ và số, ví dụ B9H5-3PBC), in dưới mã QR trên phiếu hẹn trả kết quả. ' +
    'Xin vui lòng gõ lại đúng mã, hoặc quét mã QR.',
  used: 'Phiếu khảo sát này đã được trả lời. Cảm ơn ông/bà!',
  expired: 'Phiếu khảo sát này đã hết hạn. Cảm ơn ông/bà đã quan tâm.',
  cancelled: 'Phiếu khảo sát này đã bị hủy. Nếu cần, ông/bà vui lòng liên hệ nơi tiếp nhận hồ sơ.',
  taken: 'Phiếu khảo sát này đang được trả lời trên một tài khoản khác.',
  unavailable: 'Hệ thống đang bận, chưa kiểm tra được mã khảo sát. Xin vui lòng gửi lại mã sau ít phút.',
  lockedOut: (minutes: number) => `Ông/bà đã nhập sai mã nhiều lần. Xin vui lòng thử lại sau ${minutes} phút.`,
  switchAsk: 'Ông/bà đang trả lời dở một phiếu khảo sát khác. Ông/bà muốn tiếp tục phiếu đang làm hay bắt đầu phiếu mới?',
  keepLabel: 'Tiếp tục phiếu đang làm',
  newLabel: 'Bắt đầu phiếu mới',
  resume: 'Mời ông/bà tiếp tục trả lời câu hỏi dưới đây.',
} as const;
